/**
 * Single-flight with shared cancellation: concurrent callers share one run of `work`; each caller
 * may stop waiting with its own AbortSignal, and the run itself is aborted only when every caller
 * has given up. Without this, the first caller's signal would govern everyone's wait (a client
 * that hangs up during a cold start must not cancel the provisioning the others wait for).
 */
import { AciimgError } from "../errors.js";

export interface Flight<T> {
  /** Joins the run in progress or starts one. Rejects with E_ABORTED when `signal` fires first. */
  join(signal?: AbortSignal, onPhase?: (phase: string) => void): Promise<T>;
}

type Work<T> = (signal: AbortSignal, onPhase: (phase: string) => void) => Promise<T>;

export function createFlight<T>(work: Work<T>): Flight<T> {
  let current:
    | { promise: Promise<T>; controller: AbortController; waiters: number; listeners: Set<(phase: string) => void> }
    | undefined;

  return {
    join(signal, onPhase) {
      if (signal?.aborted) return Promise.reject(aborted());
      if (!current) {
        const controller = new AbortController();
        const listeners = new Set<(phase: string) => void>();
        const run = {
          controller,
          listeners,
          waiters: 0,
          promise: work(controller.signal, (phase) => listeners.forEach((listener) => listener(phase))),
        };
        current = run;
        // Settled runs leave the slot; the next join starts afresh.
        void run.promise.then(
          () => {
            if (current === run) current = undefined;
          },
          () => {
            if (current === run) current = undefined;
          },
        );
      }
      const run = current;
      run.waiters += 1;
      if (onPhase) run.listeners.add(onPhase);
      return new Promise<T>((resolve, reject) => {
        let left = false;
        const leave = (): void => {
          if (left) return;
          left = true;
          signal?.removeEventListener("abort", onAbort);
          if (onPhase) run.listeners.delete(onPhase);
          run.waiters -= 1;
        };
        const onAbort = (): void => {
          leave();
          // The last waiter leaving cancels the work itself: nobody wants its result any more.
          if (run.waiters === 0) run.controller.abort(signal?.reason);
          reject(aborted());
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        run.promise.then(
          (value) => {
            leave();
            resolve(value);
          },
          (error: unknown) => {
            leave();
            reject(error);
          },
        );
      });
    },
  };
}

function aborted(): AciimgError {
  return new AciimgError("E_ABORTED", "waiting for the backend was cancelled");
}
