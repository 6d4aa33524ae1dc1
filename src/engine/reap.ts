/**
 * reap(): deletes idle backends and orphans (DESIGN.md §1 "Idle cleanup").
 *
 * The race with a starting call is closed in this order: under the store's lock the record is
 * re-checked (still the same backend, still running, still idle) and removed, and only then is the
 * backend deleted. A call that starts afterwards finds no record and provisions anew; a call
 * already in flight on the deleted backend sees it vanish and retries on a new one (engine
 * `call`; at most twice), so no request is lost.
 *
 * Orphans are backends the provider lists but the state does not name (a lost state file, a
 * provisioner killed between create and record). One younger than `createTimeoutMs`, or whose
 * name has a live provisioning claim, may be a create in progress and is kept. Only our own
 * backends (tagged with this state's owner id) can be orphans: another state's, or one made before
 * owner ids, is reported in `foreign` and never deleted — it may be someone else's running backend.
 */
import { isProvisionerDead } from "./ensure.js";
import { foreignOf, ownershipOf } from "./owner.js";
import type { BackendRef, Clock, Provider, ReapReport, StateStore } from "./types.js";

export interface ReapContext {
  provider: Provider;
  store: StateStore;
  clock: Clock;
  host: string;
  createTimeoutMs: number;
  staleProvisionerMs: number;
}

const refOf = (ref: BackendRef): BackendRef => ({
  provider: ref.provider,
  id: ref.id,
  name: ref.name,
  ...(ref.createdAt ? { createdAt: ref.createdAt } : {}),
  ...(ref.owner ? { owner: ref.owner } : {}),
});

/** Runs one reap pass: the recorded backend (idle or gone), then orphans and others' backends from the provider's list. (Long for those two halves, which share the report.) */
export async function reapBackends(context: ReapContext, options: { idleMs: number; dryRun?: boolean; signal?: AbortSignal }): Promise<ReapReport> {
  const { provider, store, clock } = context;
  const dryRun = options.dryRun ?? false;
  const report: ReapReport = { removed: [], kept: [], foreign: [], dryRun };

  const state = await store.read();
  for (const record of Object.values(state.backends)) {
    if (record.provider !== provider.kind) continue;
    if (record.status === "provisioning") {
      if (!isProvisionerDead(record, context)) {
        report.kept.push({ ...refOf(record), reason: "provisioning" });
      } else if (!dryRun) {
        // An abandoned claim names no backend; clearing it lets the next ensure claim again.
        await store.update((s) => {
          if (s.backends[record.name]?.id === record.id) delete s.backends[record.name];
        });
      }
      continue;
    }
    const idleMs = clock.now() - Date.parse(record.lastUsed);
    if (!(idleMs > options.idleMs)) {
      report.kept.push({ ...refOf(record), reason: "in-use", idleMs });
      continue;
    }
    if (dryRun) {
      report.removed.push({ ...refOf(record), reason: "idle", idleMs });
      continue;
    }
    const taken = await store.update((s) => {
      const current = s.backends[record.name];
      if (!current || current.id !== record.id || current.status !== "running") return undefined;
      if (!(clock.now() - Date.parse(current.lastUsed) > options.idleMs)) return undefined;
      delete s.backends[record.name];
      return current;
    });
    if (!taken) {
      report.kept.push({ ...refOf(record), reason: "in-use", idleMs: clock.now() - Date.parse(record.lastUsed) });
      continue;
    }
    await provider.delete(taken, options.signal);
    report.removed.push({ ...refOf(taken), reason: "idle", idleMs: clock.now() - Date.parse(taken.lastUsed) });
  }

  // List first, then read the state: a backend recorded in between is known, not an orphan.
  const listed = await provider.list(options.signal);
  const after = await store.read();
  const known = new Set(Object.values(after.backends).map((record) => record.id));
  const removedIds = new Set(report.removed.map((ref) => ref.id));
  for (const ref of listed) {
    if (known.has(ref.id) || removedIds.has(ref.id)) continue;
    const ownership = ownershipOf(ref, after.owner);
    if (ownership !== "ours") {
      report.foreign.push(foreignOf(ref, ownership));
      continue;
    }
    const claim = after.backends[ref.name];
    const hasLiveClaim = claim?.status === "provisioning" && !isProvisionerDead(claim, context);
    const createdAt = ref.createdAt ? Date.parse(ref.createdAt) : Number.NaN;
    const young = Number.isFinite(createdAt) && clock.now() - createdAt < context.createTimeoutMs;
    if (hasLiveClaim || young) {
      report.kept.push({ ...refOf(ref), reason: "provisioning" });
      continue;
    }
    if (!dryRun) await provider.delete(ref, options.signal);
    report.removed.push({ ...refOf(ref), reason: "orphan" });
  }
  return report;
}
