import { describe, expect, test } from "vitest";
import { isStateKey, loadConfig, maxBackends, type AzureConfig } from "../../src/config.js";
import type { BackendSpec } from "../../src/engine/types.js";
import {
  dnsLabelOf,
  dnsLabelPattern,
  groupNameOf,
  groupNamePattern,
  stateKeyOfGroup,
} from "../../src/providers/aci/names.js";
import {
  commandFor,
  containerGroupSpec,
  dryRunRequest,
  IMAGINARY_PORT,
  KEY_ENV,
  TLS_CERT_ENV,
  TLS_KEY_ENV,
} from "../../src/providers/aci/spec.js";

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

const base64 = (text: string) => Buffer.from(text).toString("base64");
const tls = {
  certPem: "-----BEGIN CERTIFICATE-----\nMIIB…\n-----END CERTIFICATE-----\n",
  keyPem: "-----BEGIN PRIVATE KEY-----\nsecret-tls-key\n-----END PRIVATE KEY-----\n",
};

describe("containerGroupSpec", () => {
  const group = containerGroupSpec(spec, azure, { apiKey: key, tls }, created, "ab12cd34", owner);
  const container = group.containers[0]!;

  test("passes the API key and the TLS key only as secureValues, never in command or a plain value", () => {
    const env = container.environmentVariables ?? [];
    expect(env.find((e) => e.name === KEY_ENV)).toEqual({ name: KEY_ENV, secureValue: key });
    expect(env.find((e) => e.name === TLS_KEY_ENV)).toEqual({ name: TLS_KEY_ENV, secureValue: base64(tls.keyPem) });
    for (const secret of [key, tls.keyPem, base64(tls.keyPem), "secret-tls-key"]) {
      expect(JSON.stringify(container.command ?? [])).not.toContain(secret);
      expect(env.filter((e) => e.value?.includes(secret))).toEqual([]);
      expect(JSON.stringify(group.tags)).not.toContain(secret);
    }
  });

  test("passes the certificate (public) as a plain value, so the pin can be read back from ARM", () => {
    expect(container.environmentVariables).toContainEqual({ name: TLS_CERT_ENV, value: base64(tls.certPem) });
  });

  test("no environment value spans lines: whether ACI keeps a value's newlines is not documented", () => {
    const values = (container.environmentVariables ?? []).map((e) => e.value ?? e.secureValue ?? "");
    expect(values.filter((v) => /[\r\n]/.test(v))).toEqual([]);
  });

  test(
    "writes the TLS pair to private files, " +
      "drops the key, and execs start.sh with TLS, our limit and no URL fetching",
    () => {
      expect(container.command?.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
      const script = container.command?.[2] ?? "";
      expect(script).toMatch(/^umask 077 && /);
      expect(script).toContain(`printf '%s' "$${TLS_CERT_ENV}" | base64 -d > "$d/aciimg-cert.pem"`);
      expect(script).toContain(`printf '%s' "$${TLS_KEY_ENV}" | base64 -d > "$d/aciimg-key.pem"`);
      expect(script).toContain(
        `unset ${TLS_KEY_ENV} && exec /start.sh -certfile "$d/aciimg-cert.pem" ` +
          `-keyfile "$d/aciimg-key.pem" -max-allowed-resolution 18 -disable-endpoints watermarkimage`,
      );
      expect(script).not.toMatch(/enable-url-source|-mount|-key /);
    },
  );

  test(
    "starts every image the same way: " +
      "an image that cannot serve TLS is refused when it answers, not guessed from its name",
    () => {
      expect(commandFor({ ...spec, image: "myacr.azurecr.io/imaginary:1" })).toEqual(commandFor(spec));
    },
  );

  test("is a Linux group with one container on port 9000, public IP, cpu and memory from the spec", () => {
    expect(group.osType).toBe("Linux");
    expect(group.containers).toHaveLength(1);
    expect(container.ports).toEqual([{ port: IMAGINARY_PORT, protocol: "TCP" }]);
    expect(group.ipAddress).toMatchObject({ type: "Public", ports: [{ port: 9000, protocol: "TCP" }] });
    expect(container.resources.requests).toEqual({ cpu: 1, memoryInGB: 1.5 });
    expect(group.location).toBe("northeurope");
  });

  test("tags the group as ours with the backend name, creation time and the owner id of the state", () => {
    expect(group.tags).toEqual({
      "managed-by": "aciimg",
      "aciimg-name": "default",
      "aciimg-created": "2026-11-25T02:00:00.000Z",
      "aciimg-owner": owner,
    });
  });

  test("adds registry credentials only when a registry server is configured", () => {
    expect(group.imageRegistryCredentials).toBeUndefined();
    const acr = containerGroupSpec(
      spec,
      { ...azure, registryServer: "me.azurecr.io", registryUsername: "me", registryPassword: "pw" },
      { apiKey: key, tls },
      created,
      "x1",
      owner,
    );
    expect(acr.imageRegistryCredentials).toEqual([{ server: "me.azurecr.io", username: "me", password: "pw" }]);
  });
});

describe("names", () => {
  test("a backend's group is aciimg-<name>; pool member i > 1 is aciimg<i>-<name>, no '--' for ARM to refuse", () => {
    expect(groupNameOf("default")).toBe("aciimg-default");
    expect(["default--2", "default--3", "web-1--20"].map(groupNameOf)).toEqual([
      "aciimg2-default",
      "aciimg3-default",
      "aciimg20-web-1",
    ]);
    expect(() => groupNameOf("default--local")).toThrow(/not the name of an ACI backend/);
  });

  test("ARM's rules as written: no '--', no edge '-', 1-63 for groups; a letter first, 5-63 for DNS labels", () => {
    expect(["a", "aciimg-x", "a".repeat(63)].every((n) => groupNamePattern.test(n))).toBe(true);
    expect(
      ["aciimg-default--2", "-a", "a-", "A", "a".repeat(64), "a_b", ""].some((n) => groupNamePattern.test(n)),
    ).toBe(false);
    expect(["abcde", "a--b-1", "a".repeat(63)].every((n) => dnsLabelPattern.test(n))).toBe(true);
    expect(["abcd", "1abcd", "abcd-", "-abcd", "Abcde", "a".repeat(64)].some((n) => dnsLabelPattern.test(n))).toBe(
      false,
    );
  });

  // Every backend name config accepts, at both ends of its length and character range, for every
  // member of the largest pool: the group and its DNS label pass ARM's rules, and no member's group
  // is another backend's (a name a person may choose never gives a member's group).
  const names = ["a", "z9", "0", "a-b", "x".repeat(32), `a${"-b".repeat(15)}c`, "9-9"];
  test.each(names)("every member of a %s pool gets names ARM accepts", (name) => {
    const keys = [name, ...Array.from({ length: maxBackends - 1 }, (_, i) => `${name}--${i + 2}`)];
    for (const key of keys) {
      expect(isStateKey(key)).toBe(true);
      expect(groupNameOf(key)).toMatch(groupNamePattern);
      for (const suffix of ["ab12cd34", "Z9", "!!!", "0123456789abcdef0123"])
        expect(dnsLabelOf(key, suffix)).toMatch(dnsLabelPattern);
    }
    const members = new Set(keys.slice(1).map(groupNameOf));
    expect(names.filter((other) => members.has(groupNameOf(other)))).toEqual([]);
  });

  test("a group's name reads back as the state key that makes it, and only such names do", () => {
    const keys = ["default", "2-x", "default--2", "web-1--20", "a--99"];
    expect(keys.map((key) => stateKeyOfGroup(groupNameOf(key)))).toEqual(keys);
    const notOurs = [
      "webshop",
      "aciimg",
      "aciimg-",
      "aciimg1-default",
      "aciimg02-default",
      "aciimg100-default",
      "aciimg-Default",
      "aciimg-a--b",
      "xaciimg-default",
    ];
    expect(notOurs.map(stateKeyOfGroup)).toEqual(notOurs.map(() => undefined));
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
      "https://management.azure.com/subscriptions/sub-9/resourceGroups/rg-9" +
        "/providers/Microsoft.ContainerInstance/containerGroups/aciimg-default?api-version=2023-05-01",
    );
    const text = JSON.stringify(request.body);
    expect(text).not.toContain("registry-pw-123");
    const body = request.body as {
      properties: {
        containers: Array<{ properties: { environmentVariables: unknown[] } }>;
        imageRegistryCredentials: unknown[];
      };
    };
    expect(body.properties.containers[0]?.properties.environmentVariables).toContainEqual({
      name: KEY_ENV,
      secureValue: "***",
    });
    expect(body.properties.containers[0]?.properties.environmentVariables).toContainEqual({
      name: TLS_KEY_ENV,
      secureValue: "***",
    });
    expect(text).not.toContain("PRIVATE KEY");
    expect(body.properties.imageRegistryCredentials).toEqual([
      { server: "me.azurecr.io", username: "me", password: "***" },
    ]);
  });
});
