/**
 * reap(): deletes idle backends and orphans (DESIGN.md §1 "Idle cleanup").
 *
 * The race with a starting call is closed in this order: under the store's lock the record is
 * re-checked (still the same backend, still running, still idle) and removed, and only then is the
 * backend deleted. A call that starts afterwards finds no record and provisions anew; a call
 * already in flight on the deleted backend sees it vanish and retries on a new one (engine
 * `call`; at most twice), so no request is lost.
 *
 * Orphans are backends the provider lists but the state does not name (a provisioner killed
 * between create and record). One younger than `createTimeoutMs` (by a creation time believed
 * within the bounds of created-at.ts), or whose name has a live provisioning claim, may be a create
 * in progress and is kept. Only our own backends (tagged with this state's owner id) can be
 * orphans: another state's, or one made before owner ids, is reported in `foreign` and never
 * deleted — it may be someone else's running backend. And only under a name this state's names
 * make (its backend name, its recorded keys, and their pools' members): a tag is a claim anyone
 * who can write the group can make, so a group of another name tagged with our owner id
 * is no orphan of ours. One of another backend name is reaped by a reap run with that name.
 */
import { believedCreatedAt } from "./created-at.js";
import { isProvisionerDead } from "./ensure.js";
import { foreignOf, ownershipOf } from "./owner.js";
import { memberIndex, poolOf } from "./pool-names.js";
import type { BackendRecord, BackendRef, Clock, Provider, ReapReport, StateStore } from "./types.js";

export interface ReapContext {
  provider: Provider;
  /** The backend name (state key) of the engine that reaps. */
  name: string;
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

/** A listed ref as reported: its creation time only when believed (created-at.ts). */
const listedRefOf = (ref: BackendRef, now: number): BackendRef => {
  const { createdAt: _claimed, ...rest } = refOf(ref);
  return believedCreatedAt(ref.createdAt, now) === undefined ? rest : { ...rest, createdAt: ref.createdAt as string };
};

type ReapOptions = { idleMs: number; dryRun?: boolean; signal?: AbortSignal };

/**
 * Runs one reap pass: the recorded backends (idle or gone), then orphans and others' backends
 * from the provider's list.
 */
export async function reapBackends(context: ReapContext, options: ReapOptions): Promise<ReapReport> {
  const report: ReapReport = { removed: [], kept: [], foreign: [], dryRun: options.dryRun ?? false };
  const state = await context.store.read();
  for (const record of Object.values(state.backends)) {
    if (record.provider !== context.provider.kind) continue;
    if (record.status === "provisioning") await reapClaim(context, record, report);
    else await reapRecorded(context, record, options, report);
  }
  await reapListed(context, options, report);
  return report;
}

/** A provisioning claim: kept while its provisioner lives, cleared once it is dead. */
async function reapClaim(context: ReapContext, record: BackendRecord, report: ReapReport): Promise<void> {
  if (!isProvisionerDead(record, context)) {
    report.kept.push({ ...refOf(record), reason: "provisioning" });
  } else if (!report.dryRun) {
    // An abandoned claim names no backend; clearing it lets the next ensure claim again.
    await context.store.update((s) => {
      if (s.backends[record.name]?.id === record.id) delete s.backends[record.name];
    });
  }
}

/**
 * A running backend in the state: deleted when idle past the limit, taken out of the state first
 * (only if it is still that backend and still idle), so a batch that just used it keeps it.
 */
async function reapRecorded(
  context: ReapContext,
  record: BackendRecord,
  options: ReapOptions,
  report: ReapReport,
): Promise<void> {
  const { provider, store, clock } = context;
  const idleMs = clock.now() - Date.parse(record.lastUsed);
  if (!(idleMs > options.idleMs)) {
    report.kept.push({ ...refOf(record), reason: "in-use", idleMs });
    return;
  }
  if (report.dryRun) {
    report.removed.push({ ...refOf(record), reason: "idle", idleMs });
    return;
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
    return;
  }
  await provider.delete(taken, options.signal);
  report.removed.push({ ...refOf(taken), reason: "idle", idleMs: clock.now() - Date.parse(taken.lastUsed) });
}

/**
 * What the provider lists but the state does not know: others' backends reported, our orphans
 * deleted once old enough.
 */
async function reapListed(context: ReapContext, options: ReapOptions, report: ReapReport): Promise<void> {
  const { provider, store, clock } = context;
  // List first, then read the state: a backend recorded in between is known, not an orphan.
  const listed = await provider.list(options.signal);
  const after = await store.read();
  const known = new Set(Object.values(after.backends).map((record) => record.id));
  const removedIds = new Set(report.removed.map((ref) => ref.id));
  const pools = new Set([context.name, ...Object.keys(after.backends)].map(poolOf));
  const isOurName = (name: string): boolean => [...pools].some((pool) => memberIndex(pool, name) !== undefined);
  for (const ref of listed) {
    if (known.has(ref.id) || removedIds.has(ref.id)) continue;
    const ownership = ownershipOf(ref, after.owner);
    if (ownership !== "ours") {
      report.foreign.push(foreignOf(ref, ownership));
      continue;
    }
    if (!isOurName(ref.name)) continue;
    const now = clock.now();
    const claim = after.backends[ref.name];
    const hasLiveClaim = claim?.status === "provisioning" && !isProvisionerDead(claim, context);
    const createdAt = believedCreatedAt(ref.createdAt, now);
    const young = createdAt !== undefined && now - createdAt < context.createTimeoutMs;
    if (hasLiveClaim || young) {
      report.kept.push({ ...listedRefOf(ref, now), reason: "provisioning" });
      continue;
    }
    if (!report.dryRun) await provider.delete(ref, options.signal);
    report.removed.push({ ...listedRefOf(ref, now), reason: "orphan" });
  }
}
