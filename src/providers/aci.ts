/**
 * The Azure Container Instances provider: one container group per backend, made with the real
 * `@azure/arm-containerinstance` client and `DefaultAzureCredential`. Loaded only by dynamic import
 * (src/compose.ts), so local users never pay for the Azure SDK.
 */
import { ContainerInstanceManagementClient, type ContainerGroup } from "@azure/arm-containerinstance";
import type { TokenCredential } from "@azure/core-auth";
import { DefaultAzureCredential } from "@azure/identity";
import { randomBytes } from "node:crypto";
import { systemClock } from "../clock.js";
import type { Config } from "../config.js";
import { AciimgError } from "../errors.js";
import type { BackendRecord, BackendRef, BackendSpec, Clock, CreateOptions, LiveState, Provider } from "../engine/types.js";
import { formatDuration } from "../units.js";
import { mapAzureError, type AzureErrorContext } from "./aci-errors.js";
import {
  CONTAINER_NAME,
  IMAGINARY_PORT,
  MANAGED_BY,
  TAG_CREATED,
  TAG_MANAGED_BY,
  TAG_NAME,
  containerGroupSpec,
  groupNameOf,
} from "./aci-spec.js";
import { probeHealth, servesWithoutKey } from "./aci-health.js";
import { lastEvents, liveStateOf, parseGroupId, statusOf } from "./aci-state.js";

export interface AciProviderOptions {
  config: Config;
  /** Default: `new DefaultAzureCredential()`, created on first use. */
  credential?: TokenCredential;
  /** Default: the wall clock. */
  clock?: Clock;
}

/** How long cleanup of a half-made group may take, independent of the (maybe expired) create bound. */
const CLEANUP_TIMEOUT_MS = 5 * 60_000;

/** Creates the `aci` provider. */
export function createAciProvider(options: AciProviderOptions): Provider {
  const { config } = options;
  const azure = config.azure;
  const clock = options.clock ?? systemClock;
  let client: ContainerInstanceManagementClient | undefined;

  function configured(action: string): { subscriptionId: string; resourceGroup: string } {
    if (!azure.subscriptionId || !azure.resourceGroup) {
      const missing = [!azure.subscriptionId && "subscription (AZURE_SUBSCRIPTION_ID or --subscription)", !azure.resourceGroup && "resource group (AZURE_RESOURCE_GROUP or --resource-group)"]
        .filter(Boolean)
        .join(" and ");
      throw new AciimgError("E_CONFIG", `cannot ${action}: no Azure ${missing} configured. Set it in the environment, a flag, or aciimg.config.json.`);
    }
    return { subscriptionId: azure.subscriptionId, resourceGroup: azure.resourceGroup };
  }

  function arm(action: string): ContainerInstanceManagementClient {
    const { subscriptionId } = configured(action);
    client ??= new ContainerInstanceManagementClient(options.credential ?? new DefaultAzureCredential(), subscriptionId, {
      endpoint: azure.armEndpoint,
      ...(azure.armMaxRetries !== undefined || azure.armRetryDelayMs !== undefined
        ? {
            retryOptions: {
              ...(azure.armMaxRetries !== undefined ? { maxRetries: azure.armMaxRetries } : {}),
              ...(azure.armRetryDelayMs !== undefined ? { retryDelayInMs: azure.armRetryDelayMs, maxRetryDelayInMs: azure.armRetryDelayMs * 8 } : {}),
            },
          }
        : {}),
    });
    return client;
  }

  function context(action: string, extra: Partial<AzureErrorContext> = {}): AzureErrorContext {
    return { action, resourceGroup: azure.resourceGroup, subscriptionId: azure.subscriptionId, location: azure.location, ...extra };
  }

  /** GET the group; undefined when it (or its resource group) does not exist. */
  async function getGroup(resourceGroup: string, name: string, action: string, signal?: AbortSignal): Promise<ContainerGroup | undefined> {
    try {
      return await arm(action).containerGroups.get(resourceGroup, name, { abortSignal: signal });
    } catch (error) {
      if (statusOf(error) === 404 && (error as { code?: string }).code !== "ResourceGroupNotFound") return undefined;
      throw mapAzureError(error, context(action));
    }
  }

  async function deleteGroup(resourceGroup: string, name: string, signal?: AbortSignal): Promise<void> {
    const action = `delete container group ${name}`;
    try {
      await arm(action).containerGroups.beginDeleteAndWait(resourceGroup, name, {
        updateIntervalInMs: azure.pollIntervalMs,
        abortSignal: signal,
      });
    } catch (error) {
      // 404 (group or resource group already gone) is success: delete is idempotent.
      if (statusOf(error) === 404) return;
      throw mapAzureError(error, context(action));
    }
  }

  /** Best-effort removal of a half-made group; says in the message whether it worked. */
  async function cleanup(resourceGroup: string, name: string): Promise<string> {
    try {
      await deleteGroup(resourceGroup, name, AbortSignal.timeout(CLEANUP_TIMEOUT_MS));
      return `The half-made container group ${name} was deleted.`;
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      return `Deleting the half-made container group ${name} failed too (${why}); \`aciimg reap\` finds it by its tag later, or delete it now with \`az container delete -g ${resourceGroup} -n ${name} --yes\`.`;
    }
  }

  function recordOf(group: ContainerGroup, spec: BackendSpec, apiKey: string, endpoint: string, createdAt: string): BackendRecord {
    return {
      provider: "aci",
      id: group.id ?? "",
      name: spec.name,
      endpoint,
      apiKey,
      createdAt,
      lastUsed: new Date(clock.now()).toISOString(),
      status: "running",
      spec,
    };
  }

  /** Adoption (DESIGN.md §1 "Truth lives outside"): reuse a healthy tagged group whose key we know. */
  async function tryAdopt(
    resourceGroup: string,
    name: string,
    spec: BackendSpec,
    apiKey: string,
    signal: AbortSignal,
  ): Promise<BackendRecord | undefined> {
    const existing = await getGroup(resourceGroup, name, `create container group ${name}`, signal);
    if (!existing) return undefined;
    const live = liveStateOf(existing);
    const ours = existing.tags?.[TAG_MANAGED_BY] === MANAGED_BY;
    if (ours && live.state === "running") {
      const healthy = await probeHealth(live.endpoint, apiKey, { clock, signal, attempts: 2 });
      if (healthy === "healthy") {
        return recordOf(existing, spec, apiKey, live.endpoint, existing.tags?.[TAG_CREATED] ?? new Date(clock.now()).toISOString());
      }
    }
    // Unknown key, unhealthy or not ours: replace it rather than guess (the name is ours by convention).
    await deleteGroup(resourceGroup, name, signal);
    return undefined;
  }

  /** Reports the container's newest event name until `signal` fires; read errors are only skipped polls. */
  async function watchEvents(resourceGroup: string, name: string, signal: AbortSignal, phase: (p: string) => void): Promise<void> {
    while (!signal.aborted) {
      try {
        await clock.sleep(Math.max(azure.pollIntervalMs, 50), signal);
        const group = await arm("watch").containerGroups.get(resourceGroup, name, { abortSignal: signal });
        const events = group.containers[0]?.instanceView?.events ?? [];
        const newest = events[events.length - 1]?.name;
        if (newest) phase(newest);
      } catch {
        // Aborted, or a transient read failure: the LRO poller reports real failures.
      }
    }
  }

  async function create(spec: BackendSpec, { apiKey, signal, onPhase }: CreateOptions): Promise<BackendRecord> {
    const name = groupNameOf(spec.name);
    const action = `create container group ${name}`;
    const { resourceGroup } = configured(action);
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
      const adopted = await tryAdopt(resourceGroup, name, spec, apiKey, bound);
      if (adopted) {
        onPhase?.("adopted");
        return adopted;
      }
      const createdAt = new Date(clock.now());
      const group = containerGroupSpec(spec, azure, apiKey, createdAt, randomBytes(4).toString("hex"));
      putSent = true;
      phase("Pending");
      const poller = await arm(action).containerGroups.beginCreateOrUpdate(resourceGroup, name, group, {
        updateIntervalInMs: azure.pollIntervalMs,
        abortSignal: bound,
        onResponse: (raw) => {
          const body = raw.parsedBody as { status?: unknown; properties?: { provisioningState?: unknown; events?: Array<{ name?: unknown }> } } | undefined;
          const events = body?.properties?.events;
          const last = Array.isArray(events) ? events[events.length - 1]?.name : undefined;
          if (typeof last === "string") phase(last);
          else if (typeof body?.status === "string") phase(body.status);
          else if (typeof body?.properties?.provisioningState === "string") phase(body.properties.provisioningState);
        },
      });
      // The operation status carries events only at the end (recordings, arm-notes.md §2.5), so
      // watch the group's instanceView meanwhile for Pulling/Pulled/Started to show on a spinner.
      const watching = new AbortController();
      const watcher = watchEvents(resourceGroup, name, AbortSignal.any([bound, watching.signal]), phase);
      let result: ContainerGroup;
      try {
        result = await poller.pollUntilDone({ abortSignal: bound });
      } finally {
        watching.abort();
        await watcher;
      }
      // Succeeded means the containers run (arm-notes.md §1.3); wait for Running + IP if not yet.
      for (let live = liveStateOf(result); live.state !== "running"; live = liveStateOf(result)) {
        if (live.state === "failed") throw new AciimgError("E_PROVISION", `${action}: ${live.detail}`);
        await clock.sleep(azure.pollIntervalMs, bound);
        const again = await getGroup(resourceGroup, name, action, bound);
        if (!again) throw new AciimgError("E_PROVISION", `${action}: the group vanished while it was starting (deleted out of band?)`);
        result = again;
      }
      const live = liveStateOf(result);
      const endpoint = live.state === "running" ? live.endpoint : "";
      phase("Started");
      probing = endpoint;
      const health = await probeHealth(endpoint, apiKey, { clock, signal: bound });
      if (health !== "healthy") {
        throw new AciimgError(
          "E_BACKEND_UNREACHABLE",
          `${action}: the container runs but ${endpoint}/health ${health === "unauthorized" ? "rejects the API key" : "never answered"}.`,
        );
      }
      if (await servesWithoutKey(endpoint, bound)) {
        throw new AciimgError(
          "E_PROVISION",
          `${action}: ${spec.image} answers without the API key, so anyone who finds its public IP could use it. ` +
            `Use an image that takes its key from the IMAGINARY_SECRET environment variable (the default nextcloud/aio-imaginary does).`,
        );
      }
      phase("healthy");
      return recordOf(result, spec, apiKey, endpoint, createdAt.toISOString());
    } catch (error) {
      const timedOut = timeout.aborted && !signal?.aborted;
      // Look before cleaning up: a PUT refused outright (quota, capacity, …) created nothing.
      const look = AbortSignal.timeout(30_000);
      let group: ContainerGroup | undefined;
      let exists = false;
      if (putSent) {
        try {
          group = await getGroup(resourceGroup, name, action, look);
          exists = group !== undefined;
        } catch {
          exists = true; // unknown: try to delete anyway
        }
      }
      const logTail = probing && exists ? await tailLogs(resourceGroup, name, look) : "";
      const cleaned = exists ? ` ${await cleanup(resourceGroup, name)}` : "";
      if (timedOut) {
        const limit = formatDuration(azure.createTimeoutMs);
        throw new AciimgError(
          "E_TIMEOUT",
          probing
            ? `${action}: the container started, but imaginary at ${probing} did not answer GET /health within ${limit} (--timeout).` +
                `${logTail ? ` Its last log lines: ${logTail}` : ""}${cleaned} Check that --image serves imaginary on port ${IMAGINARY_PORT} and reads its key from IMAGINARY_SECRET.`
            : `${action}: still ${lastState} after ${limit} (--timeout).${cleaned} ` +
                `ACI may be short of capacity in ${ctx.location}: retry, raise --timeout, or try another --location.`,
          { cause: error, detail: { lastState } },
        );
      }
      const mapped = mapAzureError(error, { ...ctx, events: lastEvents(group) });
      if (logTail) mapped.message += ` Its last log lines: ${logTail}`;
      mapped.message += cleaned;
      throw mapped;
    }
  }

  /** The container's last few log lines on one line, for failure messages (best effort). */
  async function tailLogs(resourceGroup: string, name: string, signal: AbortSignal): Promise<string> {
    try {
      const result = await arm("logs").containers.listLogs(resourceGroup, name, CONTAINER_NAME, { tail: 5, abortSignal: signal });
      return (result.content ?? "").trim().split("\n").join(" | ").slice(0, 600);
    } catch {
      return "";
    }
  }

  async function inspect(record: BackendRecord, signal?: AbortSignal): Promise<LiveState> {
    const where = parseGroupId(record.id);
    if (!where) return { state: "gone" };
    try {
      const group = await arm(`inspect container group ${where.name}`).containerGroups.get(where.resourceGroup, where.name, { abortSignal: signal });
      return liveStateOf(group);
    } catch (error) {
      // A vanished group, or its whole resource group deleted: either way the backend is gone.
      if (statusOf(error) === 404) return { state: "gone" };
      throw mapAzureError(error, context(`inspect container group ${where.name}`));
    }
  }

  async function remove(ref: BackendRef, signal?: AbortSignal): Promise<void> {
    const where = parseGroupId(ref.id);
    if (!where) return;
    await deleteGroup(where.resourceGroup, where.name, signal);
  }

  async function list(signal?: AbortSignal): Promise<BackendRef[]> {
    const action = "list container groups";
    const { resourceGroup } = configured(action);
    const refs: BackendRef[] = [];
    try {
      for await (const group of arm(action).containerGroups.listByResourceGroup(resourceGroup, { abortSignal: signal })) {
        if (group.tags?.[TAG_MANAGED_BY] !== MANAGED_BY || !group.id) continue;
        const created = group.tags[TAG_CREATED];
        refs.push({
          provider: "aci",
          id: group.id,
          name: group.tags[TAG_NAME] ?? group.name ?? group.id,
          ...(created ? { createdAt: created } : {}),
        });
      }
    } catch (error) {
      throw mapAzureError(error, context(action));
    }
    return refs;
  }

  async function logs(ref: BackendRef, tail: number, signal?: AbortSignal): Promise<string> {
    const where = parseGroupId(ref.id);
    if (!where) return "";
    const action = `read the logs of container group ${where.name}`;
    try {
      const result = await arm(action).containers.listLogs(where.resourceGroup, where.name, CONTAINER_NAME, { tail, abortSignal: signal });
      return result.content ?? "";
    } catch (error) {
      if (statusOf(error) === 404) {
        throw new AciimgError("E_BACKEND_UNREACHABLE", `cannot ${action}: the group does not exist (any more).`, { cause: error });
      }
      throw mapAzureError(error, context(action));
    }
  }

  return { kind: "aci", create, inspect, delete: remove, list, logs };
}
