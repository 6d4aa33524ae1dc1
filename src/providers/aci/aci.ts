/**
 * The Azure Container Instances provider: one container group per backend, made with the real
 * `@azure/arm-containerinstance` client and `DefaultAzureCredential`. Loaded only by dynamic import
 * (src/compose.ts), so local users never pay for the Azure SDK. Creating lives in create.ts,
 * the ARM client in arm.ts, the group spec in spec.ts.
 */
import type { TokenCredential } from "@azure/core-auth";
import { systemClock } from "../../clock.js";
import type { Config } from "../../config.js";
import { AciimgError } from "../../errors.js";
import type { BackendRef, BackendRecord, Clock, LiveState, Provider } from "../../engine/types.js";
import { createArmAccess } from "./arm.js";
import { createBackendCreator } from "./create.js";
import { mapAzureError } from "./errors.js";
import { stateKeyOfGroup } from "./names.js";
import { CONTAINER_NAME, dryRunRequestFor, MANAGED_BY, TAG_CREATED, TAG_MANAGED_BY, TAG_OWNER } from "./spec.js";
import { liveStateOf, parseGroupId, statusOf } from "./state.js";

export interface AciProviderOptions {
  config: Config;
  /** Default: `new DefaultAzureCredential()`, created on first use. */
  credential?: TokenCredential;
  /** Default: the wall clock. */
  clock?: Clock;
}

/** Creates the `aci` provider. (Long only for its methods, each short: they share the ARM access.) */
export function createAciProvider(options: AciProviderOptions): Provider {
  const access = createArmAccess(options.config.azure, options.credential);
  const { arm, configured, context, deleteGroup } = access;
  const create = createBackendCreator({ access, clock: options.clock ?? systemClock });

  async function inspect(record: BackendRecord, signal?: AbortSignal): Promise<LiveState> {
    const where = parseGroupId(record.id);
    if (!where) return { state: "gone" };
    try {
      const client = await arm(`inspect container group ${where.name}`);
      const group = await client.containerGroups.get(where.resourceGroup, where.name, { abortSignal: signal });
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
      const client = await arm(action);
      for await (const group of client.containerGroups.listByResourceGroup(resourceGroup, { abortSignal: signal })) {
        // Named by the group's own name, which is what a delete acts on; the name tag is a claim.
        // A group no state key names (`webshop`, tagged like ours) is no backend of aciimg's.
        const key = group.name === undefined ? undefined : stateKeyOfGroup(group.name);
        if (group.tags?.[TAG_MANAGED_BY] !== MANAGED_BY || !group.id || key === undefined) continue;
        const created = group.tags[TAG_CREATED];
        const owner = group.tags[TAG_OWNER];
        refs.push({
          provider: "aci",
          id: group.id,
          name: key,
          ...(created ? { createdAt: created } : {}),
          ...(owner ? { owner } : {}),
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
      const client = await arm(action);
      const options = { tail, abortSignal: signal };
      const result = await client.containers.listLogs(where.resourceGroup, where.name, CONTAINER_NAME, options);
      return result.content ?? "";
    } catch (error) {
      if (statusOf(error) === 404) {
        throw new AciimgError("E_BACKEND_UNREACHABLE", `cannot ${action}: the group does not exist (any more).`, {
          cause: error,
        });
      }
      throw mapAzureError(error, context(action));
    }
  }

  return {
    kind: "aci",
    create,
    inspect,
    delete: remove,
    list,
    logs,
    describeCreate: (spec) => ({ kind: "request", request: dryRunRequestFor(spec, options.config.azure) }),
  };
}
