import { describe, expect, test } from "vitest";
import { loadConfig, type AzureConfig } from "../../src/config.js";
import type { BackendSpec } from "../../src/engine/types.js";
import {
  commandFor,
  containerGroupSpec,
  dnsLabelOf,
  dryRunRequest,
  groupNameOf,
  IMAGINARY_PORT,
  KEY_ENV,
  TLS_CERT_ENV,
  TLS_KEY_ENV,
} from "../../src/providers/aci-spec.js";

const azure: AzureConfig = {
  subscriptionId: "sub-1",
  resourceGroup: "rg-1",
  location: "westeurope",
  armEndpoint: "https://management.azure.com",
  createTimeoutMs: 600_000,
  pollIntervalMs: 2000,
};

const spec: BackendSpec = {
  name: "default",
  image: "nextcloud/aio-imaginary:20260929_105435",
  cpu: 1,
  memoryInGB: 1.5,
  location: "northeurope",
  maxUploadBytes: 20e6,
  maxResolutionMP: 18,
};

const key = "s3cr3t-key-0123456789abcdef";
const created = new Date("2026-11-25T02:00:00.000Z");
const owner = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

const tls = { certPem: "-----BEGIN CERTIFICATE-----\nMIIB…\n-----END CERTIFICATE-----\n", keyPem: "-----BEGIN PRIVATE KEY-----\nsecret-tls-key\n-----END PRIVATE KEY-----\n" };

describe("containerGroupSpec", () => {
  const group = containerGroupSpec(spec, azure, { apiKey: key, tls }, created, "ab12cd34", owner);
  const container = group.containers[0]!;

  test("passes the API key and the TLS key only as secureValues, never in command or a plain value", () => {
    const env = container.environmentVariables ?? [];
    expect(env.find((e) => e.name === KEY_ENV)).toEqual({ name: KEY_ENV, secureValue: key });
    expect(env.find((e) => e.name === TLS_KEY_ENV)).toEqual({ name: TLS_KEY_ENV, secureValue: tls.keyPem });
    for (const secret of [key, tls.keyPem, "secret-tls-key"]) {
      expect(JSON.stringify(container.command ?? [])).not.toContain(secret);
      expect(env.filter((e) => e.value?.includes(secret))).toEqual([]);
      expect(JSON.stringify(group.tags)).not.toContain(secret);
    }
  });

  test("passes the certificate (public) as a plain value, so the pin can be read back from ARM", () => {
    expect(container.environmentVariables).toContainEqual({ name: TLS_CERT_ENV, value: tls.certPem });
  });

  test("writes the TLS pair to private files, drops the key, and execs start.sh with TLS, our limit and no URL fetching", () => {
    expect(container.command?.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
    const script = container.command?.[2] ?? "";
    expect(script).toMatch(/^umask 077 && /);
    expect(script).toContain(`unset ${TLS_KEY_ENV} && exec /start.sh -certfile "$d/aciimg-cert.pem" -keyfile "$d/aciimg-key.pem" -max-allowed-resolution 18 -disable-endpoints watermarkimage`);
    expect(script).not.toMatch(/enable-url-source|-mount|-key /);
  });

  test("starts every image the same way: an image that cannot serve TLS is refused when it answers, not guessed from its name", () => {
    expect(commandFor({ ...spec, image: "myacr.azurecr.io/imaginary:1" })).toEqual(commandFor(spec));
  });

  test("is a Linux group with one container on port 9000, public IP, cpu and memory from the spec", () => {
    expect(group.osType).toBe("Linux");
    expect(group.containers).toHaveLength(1);
    expect(container.ports).toEqual([{ port: IMAGINARY_PORT, protocol: "TCP" }]);
    expect(group.ipAddress).toMatchObject({ type: "Public", ports: [{ port: 9000, protocol: "TCP" }] });
    expect(container.resources.requests).toEqual({ cpu: 1, memoryInGB: 1.5 });
    expect(group.location).toBe("northeurope");
  });

  test("tags the group as ours with the backend name, creation time and the owner id of the state", () => {
    expect(group.tags).toEqual({ "managed-by": "aciimg", "aciimg-name": "default", "aciimg-created": "2026-11-25T02:00:00.000Z", "aciimg-owner": owner });
  });

  test("adds registry credentials only when a registry server is configured", () => {
    expect(group.imageRegistryCredentials).toBeUndefined();
    const acr = containerGroupSpec(spec, { ...azure, registryServer: "me.azurecr.io", registryUsername: "me", registryPassword: "pw" }, { apiKey: key, tls }, created, "x1", owner);
    expect(acr.imageRegistryCredentials).toEqual([{ server: "me.azurecr.io", username: "me", password: "pw" }]);
  });
});

describe("names", () => {
  test("group name is derived from the backend name", () => {
    expect(groupNameOf("default")).toBe("aciimg-default");
  });

  test.each([
    ["default", "ab12cd34"],
    ["a", "Z9"],
    ["x".repeat(32), "0123456789abcdef0123"],
    ["b", "!!!"],
  ])("DNS label for %s/%s follows ACI rules (5-63 of [a-z0-9-], no edge '-')", (name, suffix) => {
    const label = dnsLabelOf(name, suffix);
    expect(label).toMatch(/^[a-z0-9][a-z0-9-]{3,61}[a-z0-9]$/);
  });

  test("DNS labels differ by suffix, so two groups never clash region-wide", () => {
    expect(dnsLabelOf("default", "aaaa1111")).not.toBe(dnsLabelOf("default", "bbbb2222"));
  });
});

describe("dryRunRequest", () => {
  test("shows the PUT on the wire with the key and registry password masked", () => {
    const config = loadConfig(
      { subscription: "sub-9", resourceGroup: "rg-9", registryServer: "me.azurecr.io", registryUsername: "me" },
      { ACIIMG_REGISTRY_PASSWORD: "registry-pw-123" },
      "/nonexistent",
    );
    const request = dryRunRequest(config);
    expect(request.method).toBe("PUT");
    expect(request.url).toBe(
      "https://management.azure.com/subscriptions/sub-9/resourceGroups/rg-9/providers/Microsoft.ContainerInstance/containerGroups/aciimg-default?api-version=2023-05-01",
    );
    const text = JSON.stringify(request.body);
    expect(text).not.toContain("registry-pw-123");
    const body = request.body as { properties: { containers: Array<{ properties: { environmentVariables: unknown[] } }>; imageRegistryCredentials: unknown[] } };
    expect(body.properties.containers[0]?.properties.environmentVariables).toContainEqual({ name: KEY_ENV, secureValue: "***" });
    expect(body.properties.containers[0]?.properties.environmentVariables).toContainEqual({ name: TLS_KEY_ENV, secureValue: "***" });
    expect(text).not.toContain("PRIVATE KEY");
    expect(body.properties.imageRegistryCredentials).toEqual([{ server: "me.azurecr.io", username: "me", password: "***" }]);
  });
});
