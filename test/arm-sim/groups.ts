/**
 * The simulator's container groups: their lifecycle (Pending → Creating → Succeeded | Failed)
 * and how ARM renders them. Shapes follow the real recordings in
 * test/arm-sim/recordings (docs/reference/arm-notes.md §1.3, §2.5): `cpu` echoed, `secureValue`
 * never echoed, `ip` missing until provisioning finished, no `instanceView` in list results.
 */
import type { ContainerEnv, RunningContainer } from "./containers.js";

export interface SimEvent {
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  name: string;
  message: string;
  type: "Normal" | "Warning";
}

export interface ProvisionFailure {
  code: string;
  message: string;
  /** Container events shown on the failed group (e.g. Pulling, Failed, BackOff). */
  events?: Array<{ name: string; message: string; type?: "Normal" | "Warning" }>;
}

/** What happens to a group after its PUT, fixed at PUT time from the simulator's faults. */
export interface CreatePlan {
  pendingPolls: number;
  creatingPolls: number;
  stuckPending: boolean;
  provisionFailure?: ProvisionFailure;
  unhealthyBackend: boolean;
  /** Wall-clock image pull once Creating, before the container is launched; 0 for none. */
  startDelayMs: number;
  /** The pull also waits for this (Faults.pullGate). */
  pullGate?: Promise<void>;
}

export interface SimGroup {
  id: string;
  name: string;
  resourceGroup: string;
  location: string;
  tags: Record<string, string>;
  containerName: string;
  image: string;
  command: string[];
  env: ContainerEnv[];
  ports: Array<{ port: number; protocol?: string }>;
  cpu: number;
  memoryInGB: number;
  restartPolicy: string;
  osType: string;
  dnsNameLabel?: string;
  registryCredentials: Array<{ server: string; username?: string }>;
  provisioningState: "Pending" | "Creating" | "Succeeded" | "Failed";
  runtimeState: "Pending" | "Running" | "Stopped";
  containerState?: "Waiting" | "Running" | "Terminated";
  containerStartTime?: string;
  events: SimEvent[];
  ip?: string;
  container?: RunningContainer;
  plan: CreatePlan;
  createdAt: string;
  /** Aborted when the group is deleted: its image pull or container launch stops. */
  removed: AbortController;
  /** The pull and launch in flight (or done); settles once a deleted group's container is stopped. */
  starting?: Promise<void>;
}

export interface PutBody {
  location?: string;
  tags?: Record<string, string>;
  properties?: {
    containers?: Array<{
      name?: string;
      properties?: {
        image?: string;
        command?: string[];
        ports?: Array<{ port: number; protocol?: string }>;
        environmentVariables?: ContainerEnv[];
        resources?: { requests?: { cpu?: number; memoryInGB?: number } };
      };
    }>;
    osType?: string;
    restartPolicy?: string;
    ipAddress?: { type?: string; ports?: Array<{ port: number; protocol?: string }>; dnsNameLabel?: string };
    imageRegistryCredentials?: Array<{ server: string; username?: string; password?: string }>;
  };
}

export function event(name: string, message: string, type: "Normal" | "Warning" = "Normal"): SimEvent {
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  return { count: 1, firstTimestamp: now, lastTimestamp: now, name, message, type };
}

/**
 * ARM's naming rules (Azure "resource-name-rules"; docs/reference/arm-notes.md §1.2). The DNS label message is ACI's
 * own (quoted in derekbekoe/vscode-spot#37); the group-name and tag codes are ARM's generic ones.
 * The rules say "lowercase", but real ACI created `mycontainerGroupxxx` (recordings/…create_test.json:
 * ARM names are case-insensitive), so capitals pass here; aciimg's own names are lowercase anyway.
 */
const groupNameRule = /^(?!-)(?!.*-$)(?!.*--)[a-z0-9-]{1,63}$/i;
const dnsLabelRule = /^[a-z][a-z0-9-]{3,61}[a-z0-9]$/;
/** ARM's tag limits: 50 per resource, names up to 512 characters, values up to 256. */
export const tagLimits = { count: 50, nameLength: 512, valueLength: 256 } as const;

/** A refusal as ARM sends it: HTTP 400 with this code and message. */
export interface Refusal {
  code: string;
  message: string;
}

/**
 * Validates a PUT the way ARM would (the group's name, required fields, DNS label, tags:
 * docs/reference/arm-notes.md §1.2).
 */
export function invalidPut(name: string, body: PutBody): Refusal | undefined {
  const content = (message: string): Refusal => ({ code: "InvalidRequestContent", message });
  if (!groupNameRule.test(name)) {
    return {
      code: "InvalidResourceName",
      message:
        `The container group name '${name}' is invalid. ` +
        `The name must be between 1 and 63 characters long, contain only lowercase letters, ` +
        `numbers and hyphens, not start or end with a hyphen, and not contain consecutive hyphens.`,
    };
  }
  const containers = body.properties?.containers;
  if (!body.location) return content("The 'location' property is required.");
  if (!Array.isArray(containers) || containers.length === 0) return content("The 'containers' property is required.");
  if (!body.properties?.osType) return content("The 'osType' property is required.");
  for (const c of containers) {
    if (!c.name || !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(c.name))
      return content(`The container name '${c.name}' is invalid.`);
    if (!c.properties?.image) return content("The 'image' property is required.");
    const req = c.properties.resources?.requests;
    if (typeof req?.cpu !== "number" || typeof req.memoryInGB !== "number")
      return content("The 'resources.requests' property is required.");
  }
  const label = body.properties.ipAddress?.dnsNameLabel;
  if (label !== undefined && !dnsLabelRule.test(label)) {
    return {
      code: "InvalidDnsNameLabel",
      message:
        `The DNS name label '${label}' in container group '${name}' is invalid. ` +
        `It can contain only lowercase letters, numbers and hyphens. The first character must be a letter. ` +
        `The last character must be a letter or number. The value must be between 5 and 63 characters long.`,
    };
  }
  return invalidTags(body.tags ?? {});
}

function invalidTags(tags: Record<string, string>): Refusal | undefined {
  const entries = Object.entries(tags);
  if (entries.length > tagLimits.count) {
    return {
      code: "InvalidTagCount",
      message: `The number of tags (${entries.length}) exceeds the maximum of ${tagLimits.count} per resource.`,
    };
  }
  for (const [tagName, value] of entries) {
    if (tagName.length > tagLimits.nameLength) {
      return {
        code: "InvalidTagNameLength",
        message: `The tag name '${tagName}' exceeds the maximum length of '${tagLimits.nameLength}' characters.`,
      };
    }
    if (typeof value !== "string" || value.length > tagLimits.valueLength) {
      return {
        code: "InvalidTagValueLength",
        message: `The tag value of '${tagName}' exceeds the maximum length of '${tagLimits.valueLength}' characters.`,
      };
    }
  }
  return undefined;
}

/**
 * Whether ACI keeps the newlines of a multi-line environment value is not documented (issue 21), so
 * the simulator takes the worst case: the container (and a GET) sees each line break as a space.
 */
function singleLine(env: ContainerEnv): ContainerEnv {
  const flat = (text: string | undefined) => text?.replace(/\r?\n/g, " ");
  return {
    name: env.name,
    ...(env.value !== undefined ? { value: flat(env.value) } : {}),
    ...(env.secureValue !== undefined ? { secureValue: flat(env.secureValue) } : {}),
  };
}

export function groupFromPut(
  id: string,
  resourceGroup: string,
  name: string,
  body: PutBody,
  plan: CreatePlan,
): SimGroup {
  const props = body.properties ?? {};
  const first = props.containers?.[0] ?? {};
  const cprops = first.properties ?? {};
  return {
    id,
    name,
    resourceGroup,
    location: body.location ?? "westeurope",
    tags: { ...(body.tags ?? {}) },
    containerName: first.name ?? "container",
    image: cprops.image ?? "",
    command: cprops.command ?? [],
    env: (cprops.environmentVariables ?? []).map(singleLine),
    ports: cprops.ports ?? [],
    cpu: cprops.resources?.requests?.cpu ?? 1,
    memoryInGB: cprops.resources?.requests?.memoryInGB ?? 1.5,
    restartPolicy: props.restartPolicy ?? "Always",
    osType: props.osType ?? "Linux",
    dnsNameLabel: props.ipAddress?.dnsNameLabel,
    registryCredentials: (props.imageRegistryCredentials ?? []).map(({ server, username }) => ({
      server,
      ...(username ? { username } : {}),
    })),
    provisioningState: "Pending",
    runtimeState: "Pending",
    events: [],
    plan,
    createdAt: new Date().toISOString(),
    removed: new AbortController(),
  };
}

/** The group as ARM renders it. `forList` drops instanceView (ARM does not return it in lists). */
export function renderGroup(g: SimGroup, forList = false): Record<string, unknown> {
  const instanceView =
    g.containerState && !forList
      ? {
          instanceView: {
            restartCount: 0,
            currentState: {
              state: g.containerState,
              ...(g.containerStartTime ? { startTime: g.containerStartTime } : {}),
              detailStatus: "",
            },
            events: g.events,
          },
        }
      : {};
  return {
    properties: {
      sku: "Standard",
      provisioningState: g.provisioningState,
      containers: [
        {
          name: g.containerName,
          properties: {
            image: g.image,
            command: g.command,
            ports: g.ports.map(({ port }) => ({ port })),
            // x-ms-secret: a secureValue is never echoed, only its name.
            environmentVariables: g.env.map((e) =>
              e.secureValue !== undefined ? { name: e.name } : { name: e.name, value: e.value ?? "" },
            ),
            ...instanceView,
            resources: { requests: { memoryInGB: g.memoryInGB, cpu: g.cpu } },
          },
        },
      ],
      initContainers: [],
      ...(g.registryCredentials.length ? { imageRegistryCredentials: g.registryCredentials } : {}),
      restartPolicy: g.restartPolicy,
      ipAddress: {
        ...(g.ip ? { ip: g.ip } : {}),
        ports: g.ports.map(({ port, protocol }) => ({ port, protocol: protocol ?? "TCP" })),
        type: "Public",
        ...(g.dnsNameLabel
          ? { dnsNameLabel: g.dnsNameLabel, fqdn: `${g.dnsNameLabel}.${g.location}.azurecontainer.io` }
          : {}),
      },
      osType: g.osType,
      ...(forList ? {} : { instanceView: { events: [], state: g.runtimeState } }),
    },
    id: g.id,
    name: g.name,
    type: "Microsoft.ContainerInstance/containerGroups",
    location: g.location,
    ...(Object.keys(g.tags).length ? { tags: g.tags } : {}),
  };
}
