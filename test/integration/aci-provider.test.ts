/**
 * The aci provider with the real Azure SDK and DefaultAzureCredential (managed identity) against
 * the ARM simulator, whose containers are real backend processes.
 */
import { ContainerInstanceManagementClient, type ContainerGroup } from "@azure/arm-containerinstance";
import { DefaultAzureCredential } from "@azure/identity";
import sharp from "sharp";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { BackendRecord } from "../../src/engine/types.js";
import { createImaginaryClient } from "../../src/client/client.js";
import { startHarness, type SimHarness } from "../arm-sim/harness.js";
import { healthOf } from "../helpers/backend-health.js";

let h: SimHarness;
beforeAll(async () => {
  h = await startHarness();
});
afterEach(async () => h.reset());
afterAll(async () => h?.close());

const healthStatus = async (record: BackendRecord, key: string): Promise<number> =>
  (await healthOf(record, key)).status;

describe("aci provider on the ARM simulator", () => {
  test("create sends one PUT, waits for the LRO, and returns a backend that answers /health with the key", async () => {
    const provider = h.provider();
    const phases: string[] = [];
    h.sim.faults.creatingPolls = 10; // long enough for the instanceView watcher to see the pull
    const record = await provider.create(h.spec(), {
      owner: "test-owner",
      apiKey: "key-create-1",
      onPhase: (p) => phases.push(p),
    });

    expect(h.sim.count("PUT")).toBe(1);
    expect(record.provider).toBe("aci");
    expect(record.id).toMatch(
      /\/resourceGroups\/aciimg-rg\/providers\/Microsoft\.ContainerInstance\/containerGroups\/aciimg-default$/,
    );
    expect(record.endpoint).toMatch(/^https:\/\/127\.\d+\.\d+\.\d+:9000$/);
    expect(await healthStatus(record, "key-create-1")).toBe(200);
    expect(await healthStatus(record, "wrong-key")).toBe(401);
    // Spinner phases: the operation status, then the container's instanceView events, then our probe.
    expect(phases[0]).toBe("Pending");
    expect(phases).toContain("Pulling");
    expect(phases.indexOf("Pulling")).toBeLessThan(phases.indexOf("Started"));
    expect(phases.at(-1)).toBe("healthy");
    // The SDK followed Azure-AsyncOperation and then did the final GET itself (docs/reference/arm-notes.md §2.2).
    expect(h.sim.count("GET", /\/operations\//)).toBeGreaterThanOrEqual(2);
  });

  test("the key travels only as a secureValue and ARM never shows it back", async () => {
    const provider = h.provider();
    const key = "very-secret-key-0123456789";
    await provider.create(h.spec(), { owner: "test-owner", apiKey: key });

    const put = h.sim.requests.find((r) => r.method === "PUT");
    const container = (
      put!.body as {
        properties: {
          containers: Array<{
            properties: {
              command?: string[];
              environmentVariables: Array<{ name: string; value?: string; secureValue?: string }>;
            };
          }>;
        };
      }
    ).properties.containers[0]!.properties;
    expect(container.environmentVariables.find((e) => e.name === "IMAGINARY_SECRET")).toEqual({
      name: "IMAGINARY_SECRET",
      secureValue: key,
    });
    expect(JSON.stringify(container.command ?? [])).not.toContain(key);

    // What anyone with read access sees, through the real SDK.
    const reader = new ContainerInstanceManagementClient(new DefaultAzureCredential(), h.sim.subscriptionId, {
      endpoint: h.sim.endpoint,
    });
    const group = await reader.containerGroups.get(h.sim.resourceGroup, "aciimg-default");
    expect(JSON.stringify(group)).not.toContain(key);
    expect(
      group.containers[0]?.environmentVariables?.find((e) => e.name === "IMAGINARY_SECRET")?.secureValue,
    ).toBeUndefined();
  });

  test("the resolution limit reaches imaginary through the command, like aio-imaginary's start.sh flags", async () => {
    const record = await h
      .provider()
      .create({ ...h.spec(), maxResolutionMP: 0.1 }, { owner: "test-owner", apiKey: "key-mp" });
    const put = h.sim.requests.find((r) => r.method === "PUT");
    expect(JSON.stringify(put?.body)).toContain("-max-allowed-resolution 0.1 -disable-endpoints watermarkimage");
    const image = await sharp({ create: { width: 640, height: 480, channels: 3, background: "#808080" } })
      .jpeg()
      .toBuffer();
    const client = createImaginaryClient({
      endpoint: record.endpoint,
      apiKey: "key-mp",
      tlsFingerprint: record.tlsFingerprint,
      connections: 1,
    });
    try {
      const tooLarge = await client
        .request({
          op: "resize",
          query: new URLSearchParams({ width: "10" }),
          body: image,
          signal: AbortSignal.timeout(10_000),
        })
        .catch((e: unknown) => e);
      // 0.31 MP > 0.1 MP (docs/reference/imaginary-api.md §1.8)
      expect(tooLarge).toMatchObject({ code: "E_IMAGE", detail: { status: 422 } });
    } finally {
      await client.close();
    }
  });

  test("inspect says running, then gone after delete; deleting again is still success", async () => {
    const provider = h.provider();
    const record = await provider.create(h.spec(), { owner: "test-owner", apiKey: "key-inspect" });
    expect(await provider.inspect(record)).toEqual({ state: "running", endpoint: record.endpoint });

    await provider.delete(record);
    expect(h.sim.groups()).toEqual([]);
    expect(await provider.inspect(record)).toEqual({ state: "gone" });
    await expect(provider.delete(record)).resolves.toBeUndefined();
    expect(h.sim.requests.filter((r) => r.method === "DELETE").map((r) => r.status)).toEqual([200, 204]);
  });

  test.each([202, 204] as const)("delete accepts the %i variant of DELETE", async (variant) => {
    const provider = h.provider();
    const record = await provider.create(h.spec(), { owner: "test-owner", apiKey: `key-del-${variant}` });
    h.sim.faults.deleteVariant = variant;
    await provider.delete(record);
    expect(h.sim.groups()).toEqual([]);
    expect(h.sim.requests.filter((r) => r.method === "DELETE").map((r) => r.status)).toEqual([variant]);
  });

  test("a group deleted out of band (portal) is reported gone", async () => {
    const provider = h.provider();
    const record = await provider.create(h.spec(), { owner: "test-owner", apiKey: "key-oob" });
    await h.sim.deleteOutOfBand("aciimg-default");
    expect(await provider.inspect(record)).toEqual({ state: "gone" });
  });

  test(
    "list returns only groups tagged managed-by=aciimg, " + "across nextLink pages, with name and createdAt from tags",
    async () => {
      h.sim.faults.unhealthyBackend = true; // list needs no running backends
      const reader = new ContainerInstanceManagementClient(new DefaultAzureCredential(), h.sim.subscriptionId, {
        endpoint: h.sim.endpoint,
      });
      const base = {
        osType: "Linux",
        ipAddress: { type: "Public", ports: [{ port: 9000 }] },
      } satisfies Partial<ContainerGroup>;
      const container = (name: string) => ({
        name,
        image: "img",
        ports: [{ port: 9000 }],
        resources: { requests: { cpu: 1, memoryInGB: 1 } },
      });
      for (const name of ["a", "b", "c"]) {
        await reader.containerGroups.beginCreateOrUpdate(h.sim.resourceGroup, `aciimg-${name}`, {
          ...base,
          location: "westeurope",
          containers: [container("imaginary")],
          tags: {
            "managed-by": "aciimg",
            "aciimg-name": name,
            "aciimg-created": `2026-11-2${name === "a" ? 1 : 2}T00:00:00.000Z`,
          },
        });
      }
      await reader.containerGroups.beginCreateOrUpdate(h.sim.resourceGroup, "someone-else", {
        ...base,
        location: "westeurope",
        containers: [container("web")],
        tags: { owner: "x" },
      });

      const refs = await h.provider().list();
      expect(refs.map((r) => r.name).sort()).toEqual(["a", "b", "c"]);
      expect(refs.find((r) => r.name === "a")).toMatchObject({
        provider: "aci",
        createdAt: "2026-11-21T00:00:00.000Z",
      });
      expect(h.sim.requests.some((r) => r.method === "GET" && r.query.has("$skipToken"))).toBe(true);
    },
  );

  test("logs returns the container's last lines", async () => {
    const provider = h.provider();
    const record = await provider.create(h.spec(), { owner: "test-owner", apiKey: "key-logs" });
    await healthStatus(record, "key-logs");
    const logs = await provider.logs!(record, 5);
    expect(logs).toContain("listening");
    expect(logs.split("\n").filter(Boolean).length).toBeLessThanOrEqual(5);
    const logCall = h.sim.requests.find((r) => r.path.endsWith("/containers/imaginary/logs"));
    expect(logCall?.query.get("tail")).toBe("5");
  });

  test("create never reuses a same-named group of ours, even one answering to its key: it is made anew", async () => {
    const first = await h.provider().create(h.spec(), { owner: "test-owner", apiKey: "known-key" });
    const again = await h.provider().create(h.spec(), { owner: "test-owner", apiKey: "known-key" });
    // Trust comes only from a fingerprint the state recorded, which a create never has: the pin
    // is the new certificate's, never one read back from ARM.
    expect(again.tlsFingerprint).not.toBe(first.tlsFingerprint);
    expect(again.id).toBe(first.id);
    expect(h.sim.count("PUT")).toBe(2);
    expect(h.sim.count("DELETE")).toBe(1);
    expect(await healthStatus(again, "known-key")).toBe(200);
  });

  test("a same-named group of ours made with another key is replaced", async () => {
    const first = await h.provider().create(h.spec(), { owner: "test-owner", apiKey: "old-key" });
    const replaced = await h.provider().create(h.spec(), { owner: "test-owner", apiKey: "new-key" });
    expect(h.sim.count("DELETE")).toBe(1);
    expect(h.sim.count("PUT")).toBe(2);
    expect(h.sim.groups()).toHaveLength(1);
    expect(await healthStatus(replaced, "new-key")).toBe(200);
    expect(replaced.id).toBe(first.id);
  });
});
