/**
 * A backend that stops itself when idle (the local provider's, `aciimg backend --idle-exit`), so
 * nothing is left running on a laptop where nobody runs `reap`. Same rule and same order as reap
 * (reap.ts): under the store's lock the record is checked (still this backend, running, idle past
 * the limit by `lastUsed`, and no work in the backend itself) and removed, and only then does the
 * backend stop serving. A call that reads the state afterwards finds no record and provisions
 * anew; one already on its way to the old backend sees it vanish and retries on a new one
 * (call-retry.ts), so no request is lost.
 */
import type { BackendRecord, Clock, StateStore } from "./types.js";

/** The backend's own image work, as it counts it. */
export interface BackendWork {
  inFlight: number;
  /** Clock time the last request ended; undefined when none has since the backend started. */
  lastEndedAt: number | undefined;
}

export interface IdleStopOptions {
  store: StateStore;
  clock: Clock;
  /** The idle limit: the one reap uses (config.idleMs). */
  idleMs: number;
  /** True for the record that names this backend. */
  isSelf(record: BackendRecord): boolean;
  work(): BackendWork;
  /** Clock time the backend started. */
  startedAt: number;
  /**
   * A backend no record names this long after it started is an orphan (its creator died before
   * recording it, or the state file was lost) and stops too once idle. Until then a missing
   * record is a create in progress. Reap uses the same bound (reap.ts).
   */
  orphanAfterMs: number;
  signal?: AbortSignal;
  /** Told when a check failed (the state locked for long, unreadable); it is tried again later. */
  onError?(error: unknown): void;
}

/** Why the backend stops: its record was removed as idle, or no record names it (an idle orphan). */
export type IdleStop = "idle" | "orphan";

/** What one check under the lock found. */
type Check = { outcome: "released" } | { outcome: "not-recorded" } | { outcome: "in-use"; idleAt: number };

/** Longest single sleep: timers cannot wait longer than ~24.8 days, and a day is plenty between checks. */
const maxSleepMs = 86_400_000;

/**
 * Resolves once the backend should stop, its record (if any) already removed from the state;
 * rejects only when `signal` aborts. Checks the state only once the backend's own work has been
 * idle for `idleMs`, so a busy backend costs no state reads.
 */
export async function waitUntilIdle(options: IdleStopOptions): Promise<IdleStop> {
  const { clock, idleMs, startedAt } = options;
  const idleSince = (): number => options.work().lastEndedAt ?? startedAt;
  const isIdle = (): boolean => options.work().inFlight === 0 && clock.now() - idleSince() > idleMs;
  for (;;) {
    let wakeAt: number;
    if (options.work().inFlight > 0) wakeAt = clock.now() + idleMs;
    else if (!isIdle()) wakeAt = idleSince() + idleMs + 1;
    else {
      const check = await checkOnce(options, isIdle).catch((error: unknown) => {
        options.onError?.(error);
        return undefined;
      });
      if (check?.outcome === "released") return "idle";
      const now = clock.now();
      if (check === undefined) wakeAt = now + Math.min(idleMs, 30_000);
      // At least a second apart (up to the limit): a record that stays in use is not re-read in a loop.
      else if (check.outcome === "in-use") wakeAt = Math.max(check.idleAt, now + Math.min(idleMs, 1_000)) + 1;
      else if (now - startedAt > options.orphanAfterMs) return "orphan";
      // A create in progress records it within seconds; an orphan is one still unrecorded at the bound.
      else wakeAt = Math.min(startedAt + options.orphanAfterMs, now + Math.max(idleMs, 1_000)) + 1;
    }
    await clock.sleep(Math.min(Math.max(1, wakeAt - clock.now()), maxSleepMs), options.signal);
  }
}

/** One check under the lock: removes this backend's record when it and the backend are idle. */
function checkOnce(options: IdleStopOptions, isIdle: () => boolean): Promise<Check> {
  const { clock, idleMs } = options;
  return options.store.update((state): Check => {
    const entry = Object.entries(state.backends).find(([, record]) => options.isSelf(record));
    if (!entry) return { outcome: "not-recorded" };
    const [key, record] = entry;
    // A lastUsed that is not a time counts as now, as reap keeps such a record.
    const lastUsed = Date.parse(record.lastUsed);
    const idleAt = (Number.isFinite(lastUsed) ? lastUsed : clock.now()) + idleMs;
    // Asked again under the lock: a request that arrived since the first look keeps the backend.
    if (record.status !== "running" || !(clock.now() > idleAt) || !isIdle()) return { outcome: "in-use", idleAt };
    delete state.backends[key];
    return { outcome: "released" };
  });
}
