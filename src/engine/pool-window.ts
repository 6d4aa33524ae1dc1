/**
 * How many requests one pool member may have in flight, adapted to the link (TCP Vegas's rule).
 *
 * A fixed window of 2 × the member's CPUs keeps a backend on the same machine busy, but starves
 * one 40 ms away: each slot then spends most of its time on the wire, not on the CPUs. Little's
 * law says the window must cover the round trip too, and the round trip is not known in advance.
 * So the window is measured: the fastest response the member ever gave is its unloaded latency
 * (round trip + transfer + processing: the first answers of a batch meet an empty queue). It is
 * kept for the batch, not aged out: a minimum taken over recent answers alone rises with the
 * window that causes the queue, and the window would then grow without end. A response slower
 * than the fastest, at a window of W, means about
 * `W × (1 − fastest/latency)` requests waited in the member's queue. Fewer than `grow` waiting,
 * with the window in use, means the CPUs could take more: the window grows by one. More than
 * `shrink` waiting means requests only queue there (and would be better sent to another member):
 * it shrinks by one. Between the two it holds.
 */

export interface WindowOptions {
  /** Where the window starts: 2 × the member's CPUs, enough on a fast link. */
  initial: number;
  /** The most it may grow to (and connections the member's client may open). */
  max: number;
}

export interface Window {
  /** Requests the member may have in flight now. */
  readonly limit: number;
  /**
   * One response's latency (request sent → response headers), and whether the window was full
   * when it was sent (only then does a fast answer say the member could take more).
   */
  sample(latencyMs: number, windowWasFull: boolean): void;
}

/** Estimated requests queued at the member below which the window grows, and above which it shrinks. */
const grow = 1;
const shrink = 3;

export function createWindow(options: WindowOptions): Window {
  const max = Math.max(1, Math.floor(options.max));
  let limit = Math.min(max, Math.max(1, Math.floor(options.initial)));
  let fastest = Number.POSITIVE_INFINITY;
  return {
    get limit() {
      return limit;
    },
    sample(latencyMs, windowWasFull) {
      if (!(latencyMs > 0)) return;
      fastest = Math.min(fastest, latencyMs);
      const queued = limit * (1 - fastest / latencyMs);
      if (queued > shrink) limit = Math.max(1, limit - 1);
      else if (queued < grow && windowWasFull) limit = Math.min(max, limit + 1);
    },
  };
}
