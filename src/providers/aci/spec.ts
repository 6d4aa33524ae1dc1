/**
 * The container-group spec aciimg sends to ARM (pure: no SDK, no I/O), and the dry-run view of
 * it. Shapes follow the 2023-05-01 API the v9 SDK speaks (docs/reference/arm-notes.md §1.2).
 *
 * Why the image is started the way it is (docs/azure.md "Azure Container Instances"):
 * - The key reaches imaginary only through the `secureValue` env var IMAGINARY_SECRET, which
 *   nextcloud/aio-imaginary's /start.sh turns into `-key` (docs/reference/imaginary-api.md §2.4). ARM shows
 *   `command` and plain `value`s to anyone with read access; it never echoes `secureValue`s.
 * - HTTPS only: each group gets its own self-signed certificate (tls.ts), pinned by its
 *   fingerprint in the state. The private key travels as a `secureValue` too; the certificate
 *   (public) as a plain value, so the pin can be re-derived from ARM. imaginary reads both from
 *   files (`-certfile`, `-keyfile`, docs/reference/imaginary-api.md §2.2), so `command` is a shell step that
 *   writes them to the container's /tmp (umask 077: the image runs as uid 65534, which owns
 *   them), drops the key from the environment, and execs the image's /start.sh with the TLS
 *   flags. ACI's `command` replaces the ENTRYPOINT (there is no separate `args`); /start.sh
 *   passes "$@" after its own flags, and Go's flag package keeps the last value of a repeated
 *   flag, so our `-max-allowed-resolution` wins. No secret is in `command`.
 * - URL sources stay off: no `-enable-url-source`, no `-mount`, and `-disable-endpoints
 *   watermarkimage`, which would otherwise fetch any URL for whoever holds the key (SSRF,
 *   docs/reference/imaginary-api.md §2.3).
 */
import type { ContainerGroup } from "@azure/arm-containerinstance";
import type { AzureConfig, Config } from "../../config.js";
import { backendSpecOf } from "../../config.js";
import type { BackendSpec } from "../../engine/types.js";
import { dnsLabelOf, groupNameOf } from "./names.js";

/** ARM api-version the v9 SDK sends (docs/reference/arm-notes.md §0). */
export const ARM_API_VERSION = "2023-05-01";
/** The port imaginary listens on in the container (image ENV PORT=9000). */
export const IMAGINARY_PORT = 9000;
/** The one container in the group. */
export const CONTAINER_NAME = "imaginary";
/** The env var aio-imaginary's /start.sh reads the API key from. */
export const KEY_ENV = "IMAGINARY_SECRET";
/** The env vars the start step writes the TLS files from: the certificate (plain) and its key (secure). */
export const TLS_CERT_ENV = "ACIIMG_TLS_CERT";
export const TLS_KEY_ENV = "ACIIMG_TLS_KEY";

/** Tags on every group aciimg creates; `list` and orphan reaping find groups by the first. */
export const TAG_MANAGED_BY = "managed-by";
export const MANAGED_BY = "aciimg";
export const TAG_NAME = "aciimg-name";
export const TAG_CREATED = "aciimg-created";
/**
 * The owner id of the state that made the group (`State.owner`). Reaping, replacing and `down`
 * touch only groups carrying ours; ARM readers see it and writers can copy it, and that is fine:
 * it names what we may delete, it grants no trust (only the state's pinned fingerprint does).
 */
export const TAG_OWNER = "aciimg-owner";

/**
 * The container's `command`: write the TLS pair from the environment to files only the container
 * user can read, forget the key, and exec the image's /start.sh with TLS, our resolution limit and
 * the URL-fetching endpoint off. `${TMPDIR:-/tmp}`: /tmp in the image (TMPDIR is unset there).
 * The pair travels base64-encoded on one line: whether ACI keeps the newlines of a multi-line value
 * is not documented, and a PEM without them fails to load, so imaginary would crash-loop until
 * --timeout. `base64 -d` is busybox's in the Alpine image.
 */
export function commandFor(spec: BackendSpec): string[] {
  const script = [
    "umask 077",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, run by sh in the container
    'd="${TMPDIR:-/tmp}"',
    `printf '%s' "$${TLS_CERT_ENV}" | base64 -d > "$d/aciimg-cert.pem"`,
    `printf '%s' "$${TLS_KEY_ENV}" | base64 -d > "$d/aciimg-key.pem"`,
    `unset ${TLS_KEY_ENV}`,
    `exec /start.sh -certfile "$d/aciimg-cert.pem" -keyfile ` +
      `"$d/aciimg-key.pem" -max-allowed-resolution ${spec.maxResolutionMP} -disable-endpoints watermarkimage`,
  ].join(" && ");
  return ["/bin/sh", "-c", script];
}

/** A PEM as one line, for an environment variable (`commandFor` decodes it). */
export function envEncode(pem: string): string {
  return Buffer.from(pem, "utf8").toString("base64");
}

/** What a group is started with besides its spec: the API key and the TLS pair, all secret but the certificate. */
export interface GroupSecrets {
  apiKey: string;
  tls: { certPem: string; keyPem: string };
}

/** The container group for `spec`, keyed with `apiKey` through a secureValue only. */
export function containerGroupSpec(
  spec: BackendSpec,
  azure: AzureConfig,
  secrets: GroupSecrets,
  createdAt: Date,
  uniqueSuffix: string,
  owner: string,
): ContainerGroup {
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
        command: commandFor(spec),
        ports: [{ port: IMAGINARY_PORT, protocol: "TCP" }],
        environmentVariables: [
          { name: "PORT", value: String(IMAGINARY_PORT) },
          // https://github.com/h2non/imaginary#memory-issues (also set by the aio image).
          { name: "MALLOC_ARENA_MAX", value: "2" },
          { name: KEY_ENV, secureValue: secrets.apiKey },
          { name: TLS_CERT_ENV, value: envEncode(secrets.tls.certPem) },
          { name: TLS_KEY_ENV, secureValue: envEncode(secrets.tls.keyPem) },
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
    `/subscriptions/${azure.subscriptionId ?? "<subscription>"}` +
    `/resourceGroups/${azure.resourceGroup ?? "<resource-group>"}` +
    `/providers/Microsoft.ContainerInstance/containerGroups/${groupName}`
  );
}

const MASK = "***";

/** The group as it goes on the wire (`properties` nesting, docs/reference/arm-notes.md §1.2), secrets masked. */
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
  return dryRunRequestFor({ ...backendSpecOf(config), location: config.azure.location }, config.azure);
}

/** The masked ARM PUT that creating a backend of `spec` would send (in `azure.location` when the spec names none). */
export function dryRunRequestFor(spec: BackendSpec, azure: AzureConfig): { method: "PUT"; url: string; body: unknown } {
  const group = containerGroupSpec(
    spec,
    azure,
    { apiKey: MASK, tls: { certPem: "", keyPem: MASK } },
    new Date(),
    "xxxxxxxx",
    "(this state's owner id)",
  );
  for (const env of group.containers[0]?.environmentVariables ?? []) {
    if (env.name === TLS_CERT_ENV) env.value = "(a certificate made for this group, base64-encoded PEM)";
  }
  const url = `${azure.armEndpoint}${groupPath(azure, groupNameOf(spec.name))}?api-version=${ARM_API_VERSION}`;
  return { method: "PUT", url, body: wireBody(group) };
}
