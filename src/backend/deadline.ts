/**
 * How long one request's image work may take: from when it gets its work slot
 * to its answer. imaginary bounds nothing but the connection (`-http-write-timeout`, 60 s,
 * docs/reference/imaginary-api.md §2.3); here the work itself stops, so the slot and the CPU are freed.
 */
import { ImagingError } from "./imaging-error.js";

export interface Deadline {
  /** The whole bound, for messages. */
  readonly limitMs: number;
  /** Time left; 0 or less once it has passed. */
  remainingMs(): number;
  /** Moves the end `ms` later: time spent on what the image does not control (starting a process). */
  exclude(ms: number): void;
}

/** A deadline `limitMs` from now, on a monotonic clock. */
export function startDeadline(limitMs: number, now: () => number = () => performance.now()): Deadline {
  let end = now() + limitMs;
  return {
    limitMs,
    remainingMs: () => end - now(),
    exclude: (ms) => {
      end += ms;
    },
  };
}

/**
 * 422, as imaginary answers an input too costly to process ("Image resolution is too big", §1.8)
 * and as our other cost bounds do (bounds.ts): a client error, so no client retries the same
 * work, and no 5xx that would make the engine provision again.
 */
export function tooSlow(deadline: Deadline): ImagingError {
  const seconds = Math.round(deadline.limitMs / 100) / 10;
  return new ImagingError(422, `Image processing took too long (limit ${seconds} s, the backend's max render time)`);
}

/**
 * sharp's `timeout()` for the time left: whole seconds, at least 1 (0 would mean none). libvips
 * checks it as each tile finishes, so it stops raster work within a tile of the bound.
 */
export function sharpTimeout(deadline: Deadline): { seconds: number } {
  const remaining = deadline.remainingMs();
  if (remaining <= 0) throw tooSlow(deadline);
  return { seconds: Math.min(3600, Math.max(1, Math.ceil(remaining / 1000))) };
}

/** libvips' message when sharp's timeout fired ("timeout: 70% complete"). */
export function isSharpTimeout(error: unknown): boolean {
  return error instanceof Error && /^timeout: \d+% complete/.test(error.message);
}
