/**
 * `down`: the recorded backends of this name deleted now (every member of its pool: the name and
 * `<name>--<i>`, engine/pool-names.ts), and ours the state lost track of.
 */
import { foreignOf, ownershipOf } from "./owner.js";
import { memberIndex } from "./pool-names.js";
import type { BackendRef, BackendSpec, DownReport, ForeignBackend, Provider, StateStore } from "./types.js";

export interface DownContext {
  provider: Provider;
  store: StateStore;
  spec: BackendSpec;
  /** Told each recorded backend deleted, so its clients are closed before the provider is listed. */
  onDeleted(id: string): Promise<void>;
}

/**
 * Deletes the backends of the spec's name (its pool's members);
 * resolves with the report and the ids the state recorded.
 */
export async function takeDown(
  context: DownContext,
  options: { signal?: AbortSignal; force?: boolean },
): Promise<{ report: DownReport; takenIds: Set<string> }> {
  const { provider, store, spec } = context;
  const isMember = (name: string): boolean => memberIndex(spec.name, name) !== undefined;
  let owner: string | undefined;
  const taken = await store.update((state) => {
    owner = state.owner;
    const records = Object.entries(state.backends).filter(
      ([key, record]) => isMember(key) && record.provider === provider.kind,
    );
    for (const [key] of records) delete state.backends[key];
    return records.map(([, record]) => record);
  });
  const takenIds = new Set(taken.map((record) => record.id));
  const removed: BackendRef[] = [];
  for (const record of taken) {
    if (record.status !== "running") continue;
    await provider.delete(record, options.signal);
    removed.push({ provider: record.provider, id: record.id, name: record.name, createdAt: record.createdAt });
    await context.onDeleted(record.id);
  }
  // A provisioning claim has no backend yet; its provisioner finds the claim gone and deletes
  // what it made. Our backends of this name the state lost track of go too: "down" means none
  // left. Another state's (or one made before owner ids) only with `force`: it may be running
  // for someone else, and deleting it is a decision the user makes by name.
  const others: ForeignBackend[] = [];
  for (const ref of await provider.list(options.signal)) {
    if (!isMember(ref.name) || takenIds.has(ref.id)) continue;
    const ownership = ownershipOf(ref, owner);
    if (ownership !== "ours" && !options.force) {
      others.push(foreignOf(ref, ownership));
      continue;
    }
    await provider.delete(ref, options.signal);
    removed.push(ref);
  }
  return { report: { removed, others }, takenIds };
}
