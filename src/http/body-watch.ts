/**
 * Watches a request body while it arrives: each chunk is charged to the upload budget as it comes
 * (not the length the client declared), and a body that stops advancing is ended. Without this, 8
 * clients declaring 20 MB and then sending a byte every 5 s held the whole budget for minutes and
 * every other upload got 503.
 */
import type { Readable } from "node:stream";
import type { Refusal } from "../protocol/replies.js";

/** Why an upload was cut short; the abort reason of `BodyWatch.signal`, answered as it says. */
export class BodyRefusedError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "BodyRefusedError";
  }
}

export interface BodyWatchOptions {
  /**
   * The body must advance by `progressBytes` (or end) within this many milliseconds, or it is
   * refused with 408: a few seconds of silence, or a trickle, ends the upload.
   */
  idleMs: number;
  /** What counts as progress. Default 1024: a real client sends whole segments; a byte at a time is a stall. */
  progressBytes?: number;
  /** Charges bytes that just arrived; false when the budget cannot hold them (the upload is refused with 503). */
  reserve(bytes: number): boolean;
}

export interface BodyWatch {
  /** Aborts, with a BodyRefusedError as its reason, when the body is refused. */
  readonly signal: AbortSignal;
  /** Stops watching (the body ended, or the request is answered). Idempotent. */
  stop(): void;
}

/**
 * Starts watching `source`. Attach it in the same tick as the body's reader: its 'data' listener
 * sets the stream flowing.
 */
export function watchBody(source: Readable, options: BodyWatchOptions): BodyWatch {
  const progressBytes = options.progressBytes ?? 1024;
  const controller = new AbortController();
  let sinceProgress = 0;
  const refuse = (error: BodyRefusedError): void => {
    stop();
    controller.abort(error);
  };
  const timer = setTimeout(() => {
    refuse(
      new BodyRefusedError(
        408,
        `Request body too slow: less than ${progressBytes} bytes arrived in ${options.idleMs} ms`,
      ),
    );
  }, options.idleMs);
  // A watch left running must not keep a process alive.
  timer.unref();

  function onData(chunk: Buffer | string): void {
    const bytes = typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length;
    if (!options.reserve(bytes)) {
      refuse(new BodyRefusedError(503, "Too many uploads in progress; retry shortly", { "retry-after": "1" }));
      return;
    }
    sinceProgress += bytes;
    if (sinceProgress >= progressBytes) {
      sinceProgress = 0;
      timer.refresh();
    }
  }
  function stop(): void {
    clearTimeout(timer);
    source.off("data", onData);
    source.off("end", stop);
    source.off("close", stop);
    source.off("error", stop);
  }
  source.on("data", onData);
  source.once("end", stop);
  source.once("close", stop);
  source.once("error", stop);
  return { signal: controller.signal, stop };
}

/** The refusal an aborted watch carries, as an upload failure. */
export function refusalOf(reason: unknown): Refusal | undefined {
  return reason instanceof BodyRefusedError
    ? { ok: false, status: reason.status, message: reason.message, headers: reason.headers }
    : undefined;
}
