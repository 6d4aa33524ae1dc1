/** `down`: the recorded backend of this name deleted now, and ours the state lost track of. */
import { foreignOf, ownershipOf } from "./owner.js";
import type { BackendRef, BackendSpec, DownReport, ForeignBackend, Provider, StateStore } from "./types.js";

export interface DownContext {
  provider: Provider;
  store: StateStore;
  spec: BackendSpec;
  /** Told each recorded backend deleted, so its clients are closed before the provider is listed. */
  onDeleted(id: string): Promise<void>;
}

/** Deletes the backend of the spec's name; resolves with the report and the id the state recorded (if any). */
export async function takeDown(
  context: DownContext,
  options: { signal?: AbortSignal; force?: boolean },
): Promise<{ report: DownReport; takenId: string | undefined }> {
  const { provider, store, spec } = context;
  let owner: string | undefined;
  const taken = await store.update((state) => {
    owner = state.owner;
    const record = state.backends[spec.name];
    if (!record || record.provider !== provider.kind) return undefined;
    delete state.backends[spec.name];
    return record;
  });
  const removed: BackendRef[] = [];
  if (taken?.status === "running") {
    await provider.delete(taken, options.signal);
    removed.push({ provider: taken.provider, id: taken.id, name: taken.name, createdAt: taken.createdAt });
    await context.onDeleted(taken.id);
  }
  // A provisioning claim has no backend yet; its provisioner finds the claim gone and deletes
  // what it made. Our backends of this name the state lost track of go too: "down" means none
  // left. Another state's (or one made before owner ids) only with `force`: it may be running
  // for someone else, and deleting it is a decision the user makes by name.
  const others: ForeignBackend[] = [];
  for (const ref of await provider.list(options.signal)) {
    if (ref.name !== spec.name || ref.id === taken?.id) continue;
    const ownership = ownershipOf(ref, owner);
    if (ownership !== "ours" && !options.force) {
      others.push(foreignOf(ref, ownership));
      continue;
    }
    await provider.delete(ref, options.signal);
    removed.push(ref);
  }
  return { report: { removed, others }, takenId: taken?.id };
}
