/**
 * A counting semaphore in front of libvips: at most `limit` requests hold an image at once; the
 * rest wait in FIFO order without reading their bodies (so memory stays bounded by `limit`
 * images). A waiter whose client went away leaves the queue.
 */

export interface Slots {
  /** Waits for a free slot; resolves with its release function. Rejects when `signal` aborts. */
  acquire(signal: AbortSignal): Promise<() => void>;
  /** Requests holding a slot now. */
  readonly active: number;
  /** Requests waiting for a slot. */
  readonly waiting: number;
}

export function createSlots(limit: number): Slots {
  let active = 0;
  const queue: Array<{ grant: () => void; signal: AbortSignal; onAbort: () => void }> = [];

  const release = (): void => {
    active -= 1;
    const next = queue.shift();
    if (next) {
      next.signal.removeEventListener("abort", next.onAbort);
      active += 1;
      next.grant();
    }
  };
  const releaser = (): (() => void) => {
    let released = false;
    return () => {
      if (!released) {
        released = true;
        release();
      }
    };
  };

  return {
    acquire(signal) {
      if (signal.aborted) return Promise.reject(signal.reason);
      if (active < limit) {
        active += 1;
        return Promise.resolve(releaser());
      }
      return new Promise((resolve, reject) => {
        const entry = {
          signal,
          grant: () => resolve(releaser()),
          onAbort: () => {
            const i = queue.indexOf(entry);
            if (i >= 0) queue.splice(i, 1);
            reject(signal.reason);
          },
        };
        signal.addEventListener("abort", entry.onAbort, { once: true });
        queue.push(entry);
      });
    },
    get active() {
      return active;
    },
    get waiting() {
      return queue.length;
    },
  };
}
