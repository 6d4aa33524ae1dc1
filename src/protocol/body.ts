/**
 * Reads a request body into memory, bounded: both servers hold an upload whole (the backend to
 * decode it, `serve` for the engine's replay), and neither may be made to hold more than its limit.
 */
import type { Readable } from "node:stream";

export type BoundedBody =
  | { ok: true; bytes: Buffer }
  | { ok: false; why: "too-large" }
  /** `stop` aborted; `reason` is its abort reason. */
  | { ok: false; why: "stopped"; reason: unknown };

export interface BoundedBodyOptions {
  /** Crossing this many bytes ends the reading with "too-large". */
  maxBytes: number;
  /**
   * The length the request declared. The chunks then go straight into one buffer of that size: no
   * second copy of the image, and less garbage per request (Node's HTTP parser enforces the length).
   */
  declaredBytes?: number;
  /** Ends the reading early (the client left, the body was refused) with "stopped". */
  stop?: AbortSignal;
}

/**
 * Collects `stream` until it ends, crosses `maxBytes` or `stop` aborts; rejects on a stream error.
 * When it ends early it stops listening and pauses, but does not destroy: the caller still
 * answers on the same connection.
 */
export function readBoundedBody(stream: Readable, options: BoundedBodyOptions): Promise<BoundedBody> {
  const { maxBytes, declaredBytes, stop } = options;
  return new Promise((resolve, reject) => {
    const into = declaredBytes !== undefined ? Buffer.allocUnsafe(declaredBytes) : undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    const detach = () => {
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("error", onError);
      stop?.removeEventListener("abort", onStop);
    };
    const endEarly = (result: BoundedBody) => {
      detach();
      stream.pause();
      chunks.length = 0;
      resolve(result);
    };
    const onStop = () => endEarly({ ok: false, why: "stopped", reason: stop?.reason });
    const onData = (chunk: Buffer | string) => {
      const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size > maxBytes) return endEarly({ ok: false, why: "too-large" });
      if (into && size <= into.length) buffer.copy(into, size - buffer.length);
      else chunks.push(buffer);
    };
    const onEnd = () => {
      detach();
      resolve({ ok: true, bytes: into ? into.subarray(0, size) : Buffer.concat(chunks, size) });
    };
    const onError = (error: Error) => {
      detach();
      reject(error);
    };
    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("error", onError);
    if (stop?.aborted) onStop();
    else stop?.addEventListener("abort", onStop, { once: true });
  });
}
