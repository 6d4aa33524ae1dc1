/**
 * The faults a test sets on the simulator, and what they mean for one PUT: the ARM errors real ACI
 * sends (docs/reference/arm-notes.md §3.1) and the `CreatePlan` fixed when a group is created, so changing a fault
 * later never rewrites a group already on its way. Per-group faults are keyed by group name, so a
 * pool (`aciimg-<name>`, `aciimg2-<name>`, …) can have one slow or failing member.
 */
import type { CreatePlan, ProvisionFailure } from "./groups.js";

export interface Faults {
  /** Operation polls answered "Pending" before "Creating". Default 1. */
  pendingPolls: number;
  /** Operation polls answered "Creating" at least (also until the container is up). Default 1. */
  creatingPolls: number;
  /** New groups stay Pending forever. */
  stuckPending: boolean;
  /** New groups end provisioning Failed with this error and events. */
  provisionFailure?: ProvisionFailure;
  /** The groups named here end provisioning Failed with their error (before `provisionFailure`); the others come up. */
  provisionFailureFor?: Record<string, ProvisionFailure>;
  /**
   * Wall-clock time an image pull takes once a group is Creating: the container stays Waiting with
   * the Pulling event and the operation non-terminal until it has passed. A number applies to every
   * new group; a record is by group name, `"*"` for the others. Default none.
   */
  startDelayMs?: number | Record<string, number>;
  /**
   * The image pull lasts until this promise settles (after `startDelayMs`): a test opens it when it
   * has seen what it waits for, so "before the groups are healthy" does not depend on timing.
   */
  pullGate?: Promise<void>;
  /**
   * A PUT that would create a group while this many exist in the
   * subscription is refused with ContainerGroupQuotaReached.
   */
  maxGroups?: number;
  /** The PUT is refused synchronously with this ARM error. */
  putError?: { status: number; code: string; message: string };
  /** New groups "run" but no backend answers at their IP. */
  unhealthyBackend: boolean;
  /** The next `count` ARM requests (of `methods`, default all) get 429, with Retry-After when set. */
  throttle?: { count: number; retryAfterSeconds?: number; methods?: string[] };
  /** The next `count` ARM requests (of `methods`, default all) get this status. */
  serverError?: { count: number; status: 500 | 503; methods?: string[] };
  /** DELETE answers 200 + body (what real ACI did), 202 + Azure-AsyncOperation, or 204. */
  deleteVariant: 200 | 202 | 204;
  /** Retry-After (seconds) on non-terminal operation polls. */
  pollRetryAfter?: number;
}

export const defaultFaults = (): Faults => ({
  pendingPolls: 1,
  creatingPolls: 1,
  stuckPending: false,
  unhealthyBackend: false,
  deleteVariant: 200,
});

/** Real ACI's quota refusal, with the limit and the usage it counted (docs/reference/arm-notes.md §3.1). */
export function quotaError(
  limit: number,
  usage: number,
): { status: 400; code: "ContainerGroupQuotaReached"; message: string } {
  return {
    status: 400,
    code: "ContainerGroupQuotaReached",
    message:
      `Resource type 'Microsoft.ContainerInstance/containerGroups' container group quota ` +
      `'StandardCores' exceeded in region 'westeurope'. Limit: '${limit}', Usage: '${usage}' Requested: '1'.`,
  };
}

/** Ready-made ARM errors as real ACI sends them (docs/reference/arm-notes.md §3.1). */
export const armErrors = {
  quota: quotaError(4, 4),
  capacity: {
    status: 409,
    code: "ServiceUnavailable",
    message:
      "The requested resource is not available in the location 'westeurope' at this moment. " +
      "Please retry with a different resource request or in another location. " +
      "Resource requested: '1' CPU '1.5' GB memory 'Linux' OS",
  },
  registry: {
    status: 409,
    code: "RegistryErrorResponse",
    message: "An error response is received from the docker registry 'index.docker.io'. Please retry later.",
  },
  inaccessibleImage: {
    status: 400,
    code: "InaccessibleImage",
    message:
      "The image 'nope/nope:1' in container group 'aciimg-default' is not accessible. " +
      "Please check the image and registry credential.",
  },
  // A subscription that never used ACI (Azure/aci-connector-k8s#33; 409 per MicrosoftDocs/azure-docs#28770).
  notRegistered: {
    status: 409,
    code: "MissingSubscriptionRegistration",
    message:
      "The subscription is not registered to use namespace 'Microsoft.ContainerInstance'. " +
      "See https://aka.ms/rps-not-found for how to register subscriptions.",
  },
  forbidden: {
    status: 403,
    code: "AuthorizationFailed",
    message:
      "The client 'x' with object id " +
      "'x' does not have authorization to perform action 'Microsoft.ContainerInstance/containerGroups/write' " +
      "over scope '/subscriptions/x/resourceGroups/x' or the scope is invalid.",
  },
} as const;

/** The entry for `groupName` (ARM names are case-insensitive), else the `"*"` entry. */
function byGroupName<T>(record: Record<string, T> | undefined, groupName: string): T | undefined {
  if (!record) return undefined;
  const key = Object.keys(record).find((k) => k.toLowerCase() === groupName.toLowerCase()) ?? "*";
  return record[key];
}

/** What happens to the group `groupName` created now. */
export function planFor(faults: Faults, groupName: string): CreatePlan {
  const delay = faults.startDelayMs;
  const startDelayMs = typeof delay === "number" ? delay : (byGroupName(delay, groupName) ?? 0);
  const provisionFailure = byGroupName(faults.provisionFailureFor, groupName) ?? faults.provisionFailure;
  return {
    pendingPolls: faults.pendingPolls,
    creatingPolls: faults.creatingPolls,
    stuckPending: faults.stuckPending,
    unhealthyBackend: faults.unhealthyBackend,
    startDelayMs,
    ...(provisionFailure ? { provisionFailure } : {}),
    ...(faults.pullGate ? { pullGate: faults.pullGate } : {}),
  };
}

/** The quota refusal for a PUT that would create a group while `existing` groups exist, if `maxGroups` forbids it. */
export function quotaRefusal(faults: Faults, existing: number): ReturnType<typeof quotaError> | undefined {
  return faults.maxGroups !== undefined && existing >= faults.maxGroups
    ? quotaError(faults.maxGroups, existing)
    : undefined;
}
