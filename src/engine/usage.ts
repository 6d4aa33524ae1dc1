/**
 * `lastUsed` bookkeeping (DESIGN.md §1 "Idle cleanup"): written when work starts and ends, and at
 * most every `intervalMs` while work is in flight, so a working batch never looks idle to `reap`
 * while a batch of 10,000 images does not write the state 20,000 times. Writes never fail a call:
 * an image request is not lost because the state was briefly locked.
 */
import type { Clock, StateStore } from "./types.js";

export interface UsageTracker {
  /** Work started: lastUsed now (or within `intervalMs`), refreshed while any work is in flight. */
  begin(): void;
  /** Work ended: lastUsed is written now, or at most `intervalMs` after the previous write. */
  end(): void;
  /** Writes a pending lastUsed now and waits for writes in flight. */
  flush(): Promise<void>;
  /** Stops the refresh loop and flushes. */
  close(): Promise<void>;
}

export interface UsageTrackerOptions {
  store: StateStore;
  /** Backend name (state key) whose record is touched. */
  name: string;
  clock: Clock;
  intervalMs: number;
}

/**
 * Creates the tracker for one backend name. (Long only for its methods,
 * each short: they share the in-flight count and the pending write.)
 */
export function createUsageTracker(options: UsageTrackerOptions): UsageTracker {
  const { store, name, clock, intervalMs } = options;
  let working = 0;
  let lastWriteAt = Number.NEGATIVE_INFINITY;
  /** Time of the newest use not yet written, or undefined when everything is written. */
  let pendingUse: number | undefined;
  let writing: Promise<void> = Promise.resolve();
  let deferred: AbortController | undefined;
  let loop: AbortController | undefined;
  let closed = false;

  function write(): Promise<void> {
    const usedAt = pendingUse;
    if (usedAt === undefined) return writing;
    pendingUse = undefined;
    lastWriteAt = clock.now();
    writing = writing.then(() =>
      store
        .update((state) => {
          const record = state.backends[name];
          // Only a running backend is touched: a provisioning claim has its own heartbeat.
          if (record?.status !== "running") return;
          if (Date.parse(record.lastUsed) >= usedAt) return;
          record.lastUsed = new Date(usedAt).toISOString();
        })
        .catch(() => {
          // Best effort: the next touch (at most intervalMs away) tries again.
          pendingUse ??= usedAt;
        }),
    );
    return writing;
  }

  function markUsed(): void {
    pendingUse = clock.now();
    if (closed) return;
    const sinceWrite = clock.now() - lastWriteAt;
    if (sinceWrite >= intervalMs) {
      void write();
      return;
    }
    if (deferred) return;
    // Coalesce: one write at lastWriteAt + intervalMs carries every use until then.
    const controller = new AbortController();
    deferred = controller;
    clock.sleep(intervalMs - sinceWrite, controller.signal).then(
      () => {
        if (deferred === controller) deferred = undefined;
        void write();
      },
      () => {
        if (deferred === controller) deferred = undefined;
      },
    );
  }

  async function refreshWhileWorking(signal: AbortSignal): Promise<void> {
    while (working > 0 && !signal.aborted) {
      try {
        await clock.sleep(intervalMs, signal);
      } catch {
        return;
      }
      if (working > 0) markUsed();
    }
  }

  return {
    begin() {
      working += 1;
      markUsed();
      if (working === 1 && !closed) {
        loop = new AbortController();
        void refreshWhileWorking(loop.signal);
      }
    },
    end() {
      working = Math.max(0, working - 1);
      markUsed();
      if (working === 0) {
        loop?.abort();
        loop = undefined;
      }
    },
    async flush() {
      deferred?.abort();
      deferred = undefined;
      await write();
    },
    async close() {
      closed = true;
      loop?.abort();
      deferred?.abort();
      deferred = undefined;
      await write();
    },
  };
}
