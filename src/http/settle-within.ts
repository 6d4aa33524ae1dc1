/** A bounded wait for the engine's answer that never cancels the work behind it. */

/** The answer, the engine's failure, or why the request stopped waiting. */
export type Outcome<T> =
  | { kind: "answer"; value: T }
  | { kind: "failed"; error: unknown }
  | { kind: "abandoned"; why: string };

/**
 * Waits for `promise` at most `timeoutMs`, or until one of `signals` fires (the client went away,
 * its body was refused); never cancels it.
 */
export function settleWithin<T>(
  promise: Promise<T>,
  timeoutMs: number,
  signals: Array<AbortSignal | undefined>,
): Promise<Outcome<T>> {
  return new Promise((resolve) => {
    const done = (outcome: Outcome<T>) => {
      clearTimeout(timer);
      for (const signal of signals) signal?.removeEventListener("abort", onAbort);
      resolve(outcome);
    };
    const onAbort = () => done({ kind: "abandoned", why: "the client went away" });
    const timer = setTimeout(() => done({ kind: "abandoned", why: `no answer within ${timeoutMs} ms` }), timeoutMs);
    for (const signal of signals) {
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
    }
    promise.then(
      (value) => done({ kind: "answer", value }),
      (error: unknown) => done({ kind: "failed", error }),
    );
  });
}
