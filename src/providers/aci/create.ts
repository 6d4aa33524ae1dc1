/**
 * Creating one backend as a container group: delete a same-named group of ours without a word to it,
 * PUT the spec and follow the long-running operation, wait for Running + IP, probe GET /health with
 * the key, and refuse an image that serves without it. Any failure deletes what was made and says
 * so (create-failure.ts; docs/reference/arm-notes.md §2, §6).
 */
import type { ContainerGroup } from "@azure/arm-containerinstance";
import { randomBytes } from "node:crypto";
import { AciimgError, isAciimgError } from "../../errors.js";
import type { BackendRecord, BackendSpec, Clock, CreateOptions } from "../../engine/types.js";
import type { ArmAccess } from "./arm.js";
import { createFailure } from "./create-failure.js";
import { conflictWith } from "./owner.js";
import { probeHealth, servesWithoutKey, type GroupBackend } from "./health.js";
import { createBackendCertificate } from "./tls.js";
import { groupNameOf } from "./names.js";
import { IMAGINARY_PORT, containerGroupSpec } from "./spec.js";
import { liveStateOf } from "./state.js";

/** How long cleanup of a half-made group may take, independent of the (maybe expired) create bound. */
const CLEANUP_TIMEOUT_MS = 5 * 60_000;

/**
 * Returns `create` for the aci provider. (Long only for its
 * helpers, each short: they share the ARM access and the clock.)
 */
export function createBackendCreator({
  access,
  clock,
}: {
  access: ArmAccess;
  clock: Clock;
}): (spec: BackendSpec, options: CreateOptions) => Promise<BackendRecord> {
  const { azure, configured, context, getGroup, deleteGroup } = access;

  /** Best-effort removal of a half-made group; says in the message whether it worked. */
  async function cleanup(resourceGroup: string, name: string): Promise<string> {
    try {
      await deleteGroup(resourceGroup, name, AbortSignal.timeout(CLEANUP_TIMEOUT_MS));
      return `The half-made container group ${name} was deleted.`;
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      return (
        `Deleting the half-made container group ${name} failed too (${why}); \`aciimg reap\` finds it ` +
        `by its tag later, or delete it now with \`az container delete -g ${resourceGroup} -n ${name} --yes\`.`
      );
    }
  }

  function recordOf(
    group: ContainerGroup,
    spec: BackendSpec,
    apiKey: string,
    endpoint: string,
    createdAt: string,
    tlsFingerprint: string,
  ): BackendRecord {
    return {
      provider: "aci",
      id: group.id ?? "",
      name: spec.name,
      endpoint,
      apiKey,
      tlsFingerprint,
      createdAt,
      lastUsed: new Date(clock.now()).toISOString(),
      status: "running",
      spec,
    };
  }

  /**
   * A group already under our name when the state has no record of it (DESIGN.md §1 "Owners").
   * Nothing ARM shows about it is ours to trust: its tags, certificate and address are claims
   * anyone who can write groups here can make, and only a state record's fingerprint makes a
   * group trusted, which create never has. So it is never used and never sent a key or a byte:
   * with our owner id it is deleted, to be made anew; with any other it is left (E_CONFLICT).
   */
  async function clearSameNamed(
    resourceGroup: string,
    name: string,
    spec: BackendSpec,
    owner: string,
    signal: AbortSignal,
  ): Promise<void> {
    const existing = await getGroup(resourceGroup, name, `create container group ${name}`, signal);
    if (!existing) return;
    const conflict = conflictWith(existing, { resourceGroup, groupName: name, backendName: spec.name }, owner);
    if (conflict) throw conflict;
    await deleteGroup(resourceGroup, name, signal);
  }

  async function create(spec: BackendSpec, { apiKey, owner, signal, onPhase }: CreateOptions): Promise<BackendRecord> {
    const name = groupNameOf(spec.name);
    const action = `create container group ${name}`;
    const { resourceGroup } = configured(action);
    // Loading the Azure SDK is this process's own start-up, not provisioning: on a loaded machine
    // it took seconds of the bound, which then ran out before the PUT.
    await access.arm(action);
    const timeout = AbortSignal.timeout(azure.createTimeoutMs);
    const bound = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const ctx = context(action, { image: spec.image, location: spec.location ?? azure.location });
    let lastState = "not started";
    let putSent = false;
    /** The endpoint being probed, once the container runs. */
    let probing = "";
    const phase = (p: string) => {
      if (p !== lastState) onPhase?.(p);
      lastState = p;
    };

    try {
      await clearSameNamed(resourceGroup, name, spec, owner, bound);
      const createdAt = new Date(clock.now());
      // A key pair and certificate of this group's own: the state keeps only its fingerprint.
      const tls = createBackendCertificate(createdAt);
      const group = containerGroupSpec(spec, azure, { apiKey, tls }, createdAt, randomBytes(4).toString("hex"), owner);
      putSent = true;
      phase("Pending");
      const result = await putAndFollow(access, clock, { resourceGroup, name, action }, group, bound, phase);
      const live = liveStateOf(result);
      const endpoint = live.state === "running" ? live.endpoint : "";
      phase("Started");
      probing = endpoint;
      const backend = { endpoint, apiKey, tlsFingerprint: tls.fingerprint };
      await checkServes(backend, { action, image: spec.image, endpoint }, clock, bound);
      phase("healthy");
      return recordOf(result, spec, apiKey, endpoint, createdAt.toISOString(), tls.fingerprint);
    } catch (error) {
      throw await createFailure(error, access, cleanup, {
        resourceGroup,
        name,
        action,
        ctx,
        putSent,
        probing,
        lastState,
        timedOut: timeout.aborted && !signal?.aborted,
      });
    }
  }

  return create;
}

/**
 * PUTs the group and follows the long-running operation (phases from
 * its responses and the instanceView) until it runs with an IP.
 */
async function putAndFollow(
  access: ArmAccess,
  clock: Clock,
  where: { resourceGroup: string; name: string; action: string },
  group: ContainerGroup,
  bound: AbortSignal,
  phase: (p: string) => void,
): Promise<ContainerGroup> {
  const { azure, arm, getGroup } = access;
  const { resourceGroup, name, action } = where;
  const poller = await (await arm(action)).containerGroups.beginCreateOrUpdate(resourceGroup, name, group, {
    updateIntervalInMs: azure.pollIntervalMs,
    abortSignal: bound,
    onResponse: (raw) => {
      const body = raw.parsedBody as
        | { status?: unknown; properties?: { provisioningState?: unknown; events?: Array<{ name?: unknown }> } }
        | undefined;
      const events = body?.properties?.events;
      const last = Array.isArray(events) ? events[events.length - 1]?.name : undefined;
      if (typeof last === "string") phase(last);
      else if (typeof body?.status === "string") phase(body.status);
      else if (typeof body?.properties?.provisioningState === "string") phase(body.properties.provisioningState);
    },
  });
  // The operation status carries events only at the end (recordings, docs/reference/arm-notes.md §2.5), so
  // watch the group's instanceView meanwhile for Pulling/Pulled/Started to show on a spinner.
  const watching = new AbortController();
  const watcher = watchEvents(access, clock, resourceGroup, name, AbortSignal.any([bound, watching.signal]), phase);
  let result: ContainerGroup;
  try {
    result = await poller.pollUntilDone({ abortSignal: bound });
  } finally {
    watching.abort();
    await watcher;
  }
  // Succeeded means the containers run (docs/reference/arm-notes.md §1.3); wait for Running + IP if not yet.
  for (let live = liveStateOf(result); live.state !== "running"; live = liveStateOf(result)) {
    if (live.state === "failed") throw new AciimgError("E_PROVISION", `${action}: ${live.detail}`);
    await clock.sleep(azure.pollIntervalMs, bound);
    const again = await getGroup(resourceGroup, name, action, bound);
    if (!again)
      throw new AciimgError(
        "E_PROVISION",
        `${action}: the group vanished while it was starting (deleted out of band?)`,
      );
    result = again;
  }
  return result;
}

/**
 * Probes the new group's /health with the key, then without it: fails unless it answers with the
 * key only, and over TLS.
 */
async function checkServes(
  backend: GroupBackend,
  about: { action: string; image: string; endpoint: string },
  clock: Clock,
  bound: AbortSignal,
): Promise<void> {
  const { action, endpoint } = about;
  const health = await probeHealth(backend, { clock, signal: bound }).catch((error: unknown) => {
    if (!isAciimgError(error) || error.code !== "E_PROVISION") throw error;
    throw new AciimgError(
      "E_PROVISION",
      `${action}: ${about.image} answers in plain HTTP on port ${IMAGINARY_PORT}, ` +
        `not HTTPS, so it would carry the API key and every image in clear. ` +
        `aciimg starts the image's /start.sh with -certfile/-keyfile; ` +
        `use an image whose /start.sh passes its arguments to imaginary ` +
        `(Nextcloud's aio-imaginary, the default, or one built FROM it).`,
      { cause: error },
    );
  });
  if (health !== "healthy") {
    throw new AciimgError(
      "E_BACKEND_UNREACHABLE",
      `${action}: the container runs ` +
        `but ${endpoint}/health ${health === "unauthorized" ? "rejects the API key" : "never answered"}.`,
    );
  }
  if (await servesWithoutKey(backend, bound)) {
    throw new AciimgError(
      "E_PROVISION",
      `${action}: ${about.image} answers without the API key, so anyone who finds its public IP could use it. ` +
        `Use an image that takes its key from the IMAGINARY_SECRET environment variable (the default, ` +
        `Nextcloud's aio-imaginary, does).`,
    );
  }
}

/** Reports the container's newest event name until `signal` fires; read errors are only skipped polls. */
async function watchEvents(
  access: ArmAccess,
  clock: Clock,
  resourceGroup: string,
  name: string,
  signal: AbortSignal,
  phase: (p: string) => void,
): Promise<void> {
  while (!signal.aborted) {
    try {
      await clock.sleep(Math.max(access.azure.pollIntervalMs, 50), signal);
      const group = await (await access.arm("watch")).containerGroups.get(resourceGroup, name, { abortSignal: signal });
      const events = group.containers[0]?.instanceView?.events ?? [];
      const newest = events[events.length - 1]?.name;
      if (newest) phase(newest);
    } catch {
      // Aborted, or a transient read failure: the LRO poller reports real failures.
    }
  }
}
