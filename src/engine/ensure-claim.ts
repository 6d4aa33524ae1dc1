/**
 * ensure()'s claim lifecycle: a `provisioning` claim made, kept alive by its heartbeat while
 * `provider.create` runs, turned into the running record, or dropped when create fails.
 */
import { randomBytes } from "node:crypto";
import { AciimgError, isAbortError, isAciimgError } from "../errors.js";
import { isProcessAlive } from "../host-process.js";
import type { EnsureContext, EnsureOptions } from "./ensure.js";
import { ownerOf } from "./owner.js";
import type { BackendRecord, EnsureResult, StateStore } from "./types.js";

/** True when a `provisioning` record's provisioner is gone: dead pid on this host, or a stale heartbeat. */
export function isProvisionerDead(
  record: BackendRecord,
  context: Pick<EnsureContext, "host" | "clock" | "staleProvisionerMs">,
): boolean {
  const provisioner = record.provisioner;
  if (!provisioner) return true;
  if (provisioner.host === context.host && !isProcessAlive(provisioner.pid)) return true;
  const heartbeat = Date.parse(provisioner.heartbeat);
  return !Number.isFinite(heartbeat) || context.clock.now() - heartbeat > context.staleProvisionerMs;
}

/** Removes the record of `name` if it is still `id`; resolves whether it did. */
export function dropRecord(store: StateStore, name: string, id: string): Promise<boolean> {
  return store.update((state) => {
    if (state.backends[name]?.id !== id) return false;
    delete state.backends[name];
    return true;
  });
}

/** A new `provisioning` claim for this process, with the key the backend will require. */
function newClaim(context: Pick<EnsureContext, "provider" | "spec" | "clock" | "host" | "pid">): BackendRecord {
  const { provider, spec, clock } = context;
  const now = new Date(clock.now()).toISOString();
  const token = randomBytes(6).toString("hex");
  return {
    provider: provider.kind,
    id: `provisioning:${context.host}:${context.pid}:${token}`,
    name: spec.name,
    endpoint: "",
    // The key is chosen before create so the claim and the backend agree on it.
    apiKey: randomBytes(24).toString("base64url"),
    createdAt: now,
    lastUsed: now,
    status: "provisioning",
    spec,
    provisioner: { pid: context.pid, host: context.host, heartbeat: now },
  };
}

/** Claims the free name and provisions; undefined when another process claimed it first or took our claim over. */
export async function claimAndProvision(
  context: EnsureContext,
  seenHealthy: Map<string, number>,
  options: EnsureOptions,
  started: number,
): Promise<EnsureResult | undefined> {
  const name = context.spec.name;
  const claim = newClaim(context);
  // The claim and the state's owner id (made on the first create) are written together.
  const owner = await context.store.update((state) => {
    if (state.backends[name]) return undefined;
    state.backends[name] = claim;
    return ownerOf(state);
  });
  return owner === undefined ? undefined : provision(context, seenHealthy, claim, owner, options, started);
}

/**
 * Creates the backend for our claim and records it as running; undefined when the claim was taken
 * over or removed meanwhile (the new backend is then deleted as surplus).
 */
async function provision(
  context: EnsureContext,
  seenHealthy: Map<string, number>,
  claim: BackendRecord,
  owner: string,
  options: EnsureOptions,
  started: number,
): Promise<EnsureResult | undefined> {
  const { provider, store, spec, clock } = context;
  const name = spec.name;
  const heartbeat = new AbortController();
  const beating = keepClaimAlive(context, claim.id, heartbeat.signal);
  let record: BackendRecord;
  try {
    record = await provider.create(spec, {
      apiKey: claim.apiKey,
      owner,
      signal: options.signal,
      onPhase: options.onPhase,
    });
  } catch (error) {
    heartbeat.abort();
    await beating;
    await dropRecord(store, name, claim.id).catch(() => undefined);
    if (isAciimgError(error)) throw error;
    if (isAbortError(error))
      throw new AciimgError("E_ABORTED", `provisioning the ${provider.kind} backend was cancelled`, { cause: error });
    throw new AciimgError("E_PROVISION", `cannot provision a ${provider.kind} backend: ${(error as Error).message}`, {
      cause: error,
    });
  }
  heartbeat.abort();
  await beating;
  let stored: boolean;
  try {
    stored = await store.update((state) => {
      if (state.backends[name]?.id !== claim.id) return false;
      const now = new Date(clock.now()).toISOString();
      state.backends[name] = { ...record, lastUsed: now, status: "running" };
      return true;
    });
  } catch (error) {
    // Leave nothing behind: a backend the state cannot name would run unreaped until orphan reaping.
    await provider.delete(record).catch(() => undefined);
    throw error;
  }
  if (!stored) {
    // Our claim was taken over (we looked dead) or removed by `down`: this backend is surplus.
    await provider.delete(record).catch(() => undefined);
    return undefined;
  }
  seenHealthy.set(record.id, clock.now());
  return { record: { ...record, status: "running" }, created: true, readyMs: clock.now() - started, drift: [] };
}

/**
 * Refreshes the claim's heartbeat every `heartbeatMs` until `stop` fires, so other processes see its provisioner alive.
 */
async function keepClaimAlive(context: EnsureContext, claimId: string, stop: AbortSignal): Promise<void> {
  const { store, clock } = context;
  const name = context.spec.name;
  while (!stop.aborted) {
    try {
      await clock.sleep(context.heartbeatMs, stop);
      await store.update((state) => {
        const current = state.backends[name];
        if (current?.id === claimId && current.provisioner)
          current.provisioner.heartbeat = new Date(clock.now()).toISOString();
      });
    } catch {
      if (stop.aborted) return;
    }
  }
}
