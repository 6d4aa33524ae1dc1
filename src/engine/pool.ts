/**
 * A pool of backends for one batch (docs/cli.md "A pool of backends"): every member is started at once, each
 * joins as it becomes healthy, and each request goes to the ready member with the fewest in
 * flight, within that member's window (pool-window.ts, adapted to its link).
 *
 * Members are engines (engine.ts), so each keeps what a single backend has: single-flight across
 * processes, its own state record and lastUsed. Their calls never provision (`poolMember`): a
 * member whose backend vanishes leaves the pool and the caller sends the
 * request to another (`acquire` again). Only when no member is left, ready or starting, are the
 * vanished ones started again, at most `maxRevivals` times each: a batch never stops for one lost
 * container, and never provisions without bound.
 */
import { AciimgError, isAciimgError, type ErrorCode } from "../errors.js";
import { isVanished } from "./call-retry.js";
import { createWindow, type Window } from "./pool-window.js";
import type { MemberView, Pool, PoolMember, PoolOptions, PoolSlot } from "./pool-types.js";
import type { BackendRecord } from "./types.js";

/** How often one member is started again after every member vanished. */
const maxRevivals = 2;

interface Member extends MemberView {
  source: PoolMember;
  record?: BackendRecord;
  inFlight: number;
  windowOf?: Window;
  revivals: number;
  work?: { end(): Promise<void> };
}

interface Waiter {
  resolve(slot: PoolSlot): void;
  reject(error: unknown): void;
  signal: AbortSignal;
  onAbort(): void;
}

/** Creates a pool. (Long only for its closures, each short: they share the members and the waiters.) */
export function createPool(options: PoolOptions): Pool {
  const maxWindow = options.maxWindow ?? 64;
  const maxInFlight = options.maxInFlight ?? Number.POSITIVE_INFINITY;
  const members: Member[] = options.members.map((source) => ({
    source,
    label: source.label,
    state: "starting",
    served: 0,
    window: 0,
    inFlight: 0,
    revivals: 0,
  }));
  const waiters: Waiter[] = [];
  const stopping = new AbortController();
  const starting = new Set<Promise<void>>();
  let inFlight = 0;
  let firstReady: { resolve(): void; reject(error: unknown): void } | undefined;

  const view = (): MemberView[] =>
    members.map(({ label, state, error, served, window }) => ({
      label,
      state,
      ...(error ? { error } : {}),
      served,
      window,
    }));

  function startMember(member: Member): void {
    member.state = "starting";
    const run = (async () => {
      try {
        const result = await member.source.engine.ensure({
          signal: stopping.signal,
          onPhase: (phase) => options.onPhase?.(member.label, phase),
        });
        if (stopping.signal.aborted) return;
        const windowOf = createWindow({ initial: await options.initialWindow(result.record), max: maxWindow });
        Object.assign(member, {
          state: "ready",
          record: result.record,
          windowOf,
          window: windowOf.limit,
          error: undefined,
        });
        member.work ??= member.source.engine.beginWork();
        options.onEvent?.({ kind: "ready", label: member.label, result });
        firstReady?.resolve();
      } catch (error) {
        if (stopping.signal.aborted) return;
        member.state = "failed";
        member.error = asAciimgError(error);
        options.onEvent?.({ kind: "failed", label: member.label, error: member.error });
      } finally {
        pump();
      }
    })();
    starting.add(run);
    void run.finally(() => starting.delete(run));
  }

  /** Hands free slots to waiters; when nothing can serve any more, revives or fails them. */
  function pump(): void {
    while (waiters.length > 0 && inFlight < maxInFlight) {
      const member = leastBusy();
      if (!member) break;
      const waiter = waiters.shift() as Waiter;
      waiter.signal.removeEventListener("abort", waiter.onAbort);
      waiter.resolve(slotOn(member));
    }
    if (members.some((m) => m.state === "ready" || m.state === "starting")) return;
    const revivable = members.filter((m) => m.state === "gone" && m.revivals < maxRevivals);
    if (revivable.length > 0) {
      for (const member of revivable) {
        member.revivals += 1;
        options.onEvent?.({ kind: "reviving", label: member.label });
        startMember(member);
      }
      return;
    }
    const error = noMemberError(members);
    firstReady?.reject(error);
    for (const waiter of waiters.splice(0)) {
      waiter.signal.removeEventListener("abort", waiter.onAbort);
      waiter.reject(error);
    }
  }

  function leastBusy(): Member | undefined {
    let best: Member | undefined;
    for (const member of members) {
      if (member.state !== "ready" || !member.windowOf || member.inFlight >= member.windowOf.limit) continue;
      if (
        !best ||
        member.inFlight < best.inFlight ||
        (member.inFlight === best.inFlight && member.served < best.served)
      )
        best = member;
    }
    return best;
  }

  function slotOn(member: Member): PoolSlot {
    const record = member.record as BackendRecord;
    const windowOf = member.windowOf as Window;
    const windowWasFull = member.inFlight + 1 >= windowOf.limit;
    member.inFlight += 1;
    inFlight += 1;
    let released = false;
    return {
      label: member.label,
      record,
      async send(request) {
        const sentAt = performance.now();
        try {
          const response = await member.source.engine.call(request);
          member.served += 1;
          windowOf.sample(performance.now() - sentAt, windowWasFull);
          member.window = windowOf.limit;
          return response;
        } catch (error) {
          // A timed-out request (E_REQUEST_TIMEOUT) is not a vanished member: it stays, busy
          // with that image, and the request is not sent elsewhere (call-retry.ts isVanished).
          if (isVanished(error) && member.record === record && member.state === "ready") {
            member.state = "gone";
            member.error = asAciimgError(error);
            options.onEvent?.({ kind: "gone", label: member.label, error: member.error });
          }
          throw error;
        }
      },
      release() {
        if (released) return;
        released = true;
        member.inFlight -= 1;
        inFlight -= 1;
        pump();
      },
    };
  }

  return {
    start(signal) {
      const ready = new Promise<void>((resolve, reject) => {
        firstReady = { resolve, reject };
      });
      const onAbort = (): void =>
        firstReady?.reject(new AciimgError("E_ABORTED", "starting the backends was cancelled"));
      signal.addEventListener("abort", onAbort, { once: true });
      for (const member of members) startMember(member);
      return ready.finally(() => signal.removeEventListener("abort", onAbort));
    },

    acquire(signal) {
      return new Promise<PoolSlot>((resolve, reject) => {
        if (signal.aborted) return reject(new AciimgError("E_ABORTED", "the batch was stopped"));
        const waiter: Waiter = {
          resolve,
          reject,
          signal,
          onAbort: () => {
            const index = waiters.indexOf(waiter);
            if (index >= 0) waiters.splice(index, 1);
            reject(new AciimgError("E_ABORTED", "the batch was stopped"));
          },
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
        waiters.push(waiter);
        pump();
      });
    },

    async settled() {
      while (starting.size > 0) await Promise.allSettled([...starting]);
      return view();
    },

    members: view,

    async close() {
      stopping.abort();
      await Promise.allSettled([...starting]);
      await Promise.allSettled(
        members.map(async (member) => {
          await member.work?.end();
          await member.source.release?.();
          await member.source.engine.close();
        }),
      );
    },
  };
}

function asAciimgError(error: unknown): AciimgError {
  if (isAciimgError(error)) return error;
  return new AciimgError("E_INTERNAL", (error as Error)?.message ?? String(error), { cause: error });
}

/** Why no member can serve: the one failure, or every member's, under the first one's code. */
function noMemberError(members: readonly Member[]): AciimgError {
  const failures = members.filter((m) => m.error);
  const first = failures[0]?.error;
  if (!first) return new AciimgError("E_PROVISION", "no backend of the pool could be started");
  if (failures.length === 1) return first;
  const lines = failures.map((m) => `${m.label}: ${m.error?.message}`).join("\n");
  return new AciimgError(first.code as ErrorCode, `no backend of the pool is serving:\n${lines}`, { cause: first });
}
