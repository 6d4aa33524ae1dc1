/**
 * The container-group spec aciimg sends to ARM (pure: no SDK, no I/O), and the dry-run view of
 * it. Shapes follow the 2023-05-01 API the v9 SDK speaks (arm-notes.md §1.2).
 *
 * Why the image is started the way it is (README "Azure Container Instances"):
 * - The key reaches imaginary only through the `secureValue` env var IMAGINARY_SECRET, which
 *   nextcloud/aio-imaginary's /start.sh turns into `-key` (imaginary-api.md §2.4). ARM shows
 *   `command` and plain `value`s to anyone with read access; it never echoes `secureValue`s.
 * - ACI's `command` replaces the image's ENTRYPOINT (there is no separate `args`), so for the
 *   aio-imaginary image we run its own `/start.sh` and append `-max-allowed-resolution <MP>`:
 *   start.sh passes "$@" after its default `-max-allowed-resolution 222.2`, and Go's flag
 *   package keeps the last value of a repeated flag. No secret is in `command`.
 * - URL sources stay off: no `-enable-url-source`, no `-mount` (SSRF, imaginary-api.md §2.3).
 */
import type { ContainerGroup } from "@azure/arm-containerinstance";
import type { AzureConfig, Config } from "../config.js";
import { backendSpecOf } from "../config.js";
import type { BackendSpec } from "../engine/types.js";

/** ARM api-version the v9 SDK sends (arm-notes.md §0). */
export const ARM_API_VERSION = "2023-05-01";
/** The port imaginary listens on in the container (image ENV PORT=9000). */
export const IMAGINARY_PORT = 9000;
/** The one container in the group. */
export const CONTAINER_NAME = "imaginary";
/** The env var aio-imaginary's /start.sh reads the API key from. */
export const KEY_ENV = "IMAGINARY_SECRET";

/** Tags on every group aciimg creates; `list` and orphan reaping find groups by the first. */
export const TAG_MANAGED_BY = "managed-by";
export const MANAGED_BY = "aciimg";
export const TAG_NAME = "aciimg-name";
export const TAG_CREATED = "aciimg-created";
/**
 * The owner id of the state that made the group (`State.owner`). Reaping, adoption and `down`
 * touch only groups carrying ours; ARM readers see it, and that is fine: it names, it grants nothing.
 */
export const TAG_OWNER = "aciimg-owner";

/** `aciimg-<name>`: deterministic, so a lost state can find the group again (DESIGN.md §1). */
export function groupNameOf(name: string): string {
  return `aciimg-${name}`;
}

/**
 * A DNS label unique per group: ACI's default `Unsecure` scope needs the label free region-wide
 * (arm-notes.md §6), and rules are 5–63 chars of [a-z0-9-], not starting or ending with '-'.
 */
export function dnsLabelOf(name: string, uniqueSuffix: string): string {
  const suffix = uniqueSuffix.toLowerCase().replace(/[^a-z0-9]/g, "").slice(0, 12) || "x0000";
  return `aciimg-${name}-${suffix}`.slice(0, 63).replace(/-+$/, "");
}

/** True for images whose entrypoint is aio-imaginary's /start.sh (we can append flags to it). */
export function isAioImaginary(image: string): boolean {
  return /(^|\/)aio-imaginary(:|@|$)/.test(image);
}

/** The `command` for the image: only aio-imaginary gets one (see the file comment). */
export function commandFor(spec: BackendSpec): string[] | undefined {
  if (!isAioImaginary(spec.image)) return undefined;
  return ["/start.sh", "-max-allowed-resolution", String(spec.maxResolutionMP)];
}

/** The container group for `spec`, keyed with `apiKey` through a secureValue only. */
export function containerGroupSpec(
  spec: BackendSpec,
  azure: AzureConfig,
  apiKey: string,
  createdAt: Date,
  uniqueSuffix: string,
  owner: string,
): ContainerGroup {
  const command = commandFor(spec);
  const group: ContainerGroup = {
    location: spec.location ?? azure.location,
    tags: {
      [TAG_MANAGED_BY]: MANAGED_BY,
      [TAG_NAME]: spec.name,
      [TAG_CREATED]: createdAt.toISOString(),
      [TAG_OWNER]: owner,
    },
    osType: "Linux",
    // Always: imaginary is a server; a crash should restart it rather than end the group.
    restartPolicy: "Always",
    containers: [
      {
        name: CONTAINER_NAME,
        image: spec.image,
        ...(command ? { command } : {}),
        ports: [{ port: IMAGINARY_PORT, protocol: "TCP" }],
        environmentVariables: [
          { name: "PORT", value: String(IMAGINARY_PORT) },
          // https://github.com/h2non/imaginary#memory-issues (also set by the aio image).
          { name: "MALLOC_ARENA_MAX", value: "2" },
          { name: KEY_ENV, secureValue: apiKey },
        ],
        resources: { requests: { cpu: spec.cpu, memoryInGB: spec.memoryInGB } },
      },
    ],
    ipAddress: {
      type: "Public",
      ports: [{ port: IMAGINARY_PORT, protocol: "TCP" }],
      dnsNameLabel: dnsLabelOf(spec.name, uniqueSuffix),
    },
  };
  if (azure.registryServer) {
    group.imageRegistryCredentials = [
      {
        server: azure.registryServer,
        ...(azure.registryUsername ? { username: azure.registryUsername } : {}),
        ...(azure.registryPassword ? { password: azure.registryPassword } : {}),
      },
    ];
  }
  return group;
}

/** The ARM URL of a group (without the api-version). */
export function groupPath(azure: Pick<AzureConfig, "subscriptionId" | "resourceGroup">, groupName: string): string {
  return (
    `/subscriptions/${azure.subscriptionId ?? "<subscription>"}/resourceGroups/${azure.resourceGroup ?? "<resource-group>"}` +
    `/providers/Microsoft.ContainerInstance/containerGroups/${groupName}`
  );
}

const MASK = "***";

/** The group as it goes on the wire (`properties` nesting, arm-notes.md §1.2), secrets masked. */
function wireBody(group: ContainerGroup): unknown {
  const { location, tags, containers, imageRegistryCredentials, ...rest } = group;
  return {
    location,
    tags,
    properties: {
      containers: containers.map(({ name, ...props }) => ({
        name,
        properties: {
          ...props,
          environmentVariables: props.environmentVariables?.map((env) =>
            env.secureValue === undefined ? env : { name: env.name, secureValue: MASK },
          ),
        },
      })),
      ...(imageRegistryCredentials
        ? { imageRegistryCredentials: imageRegistryCredentials.map((c) => (c.password ? { ...c, password: MASK } : c)) }
        : {}),
      ...rest,
    },
  };
}

/** What `aciimg up --dry-run` prints: the PUT aciimg would send, with secrets shown as "***". */
export function dryRunRequest(config: Config): { method: "PUT"; url: string; body: unknown } {
  const spec = { ...backendSpecOf(config), location: config.azure.location };
  const group = containerGroupSpec(spec, config.azure, MASK, new Date(), "xxxxxxxx", "(this state's owner id)");
  const url = `${config.azure.armEndpoint}${groupPath(config.azure, groupNameOf(config.name))}?api-version=${ARM_API_VERSION}`;
  return { method: "PUT", url, body: wireBody(group) };
}
