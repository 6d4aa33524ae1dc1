import { BlobServiceClient } from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BackendRecord } from "../../src/engine/types.js";
import { createBlobStateStore } from "../../src/state/blob.js";
import { startAzurite, type Azurite } from "../helpers/azurite.js";
import { describeStateStore } from "../helpers/state-contract.js";

let azurite: Azurite;
let containerSeq = 0;

beforeAll(async () => {
  azurite = await startAzurite();
});
afterAll(async () => {
  await azurite?.stop();
});

/** A fresh container per test, so tests in this file never see each other's state. */
function config() {
  containerSeq += 1;
  return {
    connectionString: azurite.connectionString,
    container: `state-${process.pid}-${containerSeq}`,
    blobName: "state.json",
  };
}

function record(name: string): BackendRecord {
  const now = new Date(0).toISOString();
  return {
    provider: "local",
    id: `local:1@${name}`,
    name,
    endpoint: "http://127.0.0.1:1",
    apiKey: `key-${name}`,
    createdAt: now,
    lastUsed: now,
    status: "running",
    spec: { name, image: "x", cpu: 1, memoryInGB: 1, maxUploadBytes: 1, maxResolutionMP: 1 },
  };
}

async function putRaw(cfg: ReturnType<typeof config>, text: string): Promise<void> {
  const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(cfg.container);
  await container.createIfNotExists();
  await container.getBlockBlobClient(cfg.blobName).upload(text, Buffer.byteLength(text));
}

describeStateStore("Azure Blob on Azurite", async () => {
  const cfg = config();
  return {
    store: createBlobStateStore(cfg),
    async cleanup() {
      await BlobServiceClient.fromConnectionString(azurite.connectionString)
        .getContainerClient(cfg.container)
        .deleteIfExists();
    },
  };
});

describe("blob state store on Azurite", () => {
  it("reads an empty state when neither container nor blob exists", async () => {
    const store = createBlobStateStore(config());
    await expect(store.read()).resolves.toEqual({ version: 1, backends: {} });
  });

  it("creates the container on the first write and reads back what was written", async () => {
    const cfg = config();
    const store = createBlobStateStore(cfg);
    const result = await store.update((state) => {
      state.backends.default = record("default");
      return "done";
    });
    expect(result).toBe("done");
    const again = createBlobStateStore(cfg);
    expect((await again.read()).backends.default?.apiKey).toBe("key-default");
  });

  it("loses no update when two stores write concurrently (ETag conflicts are retried)", async () => {
    const cfg = config();
    const stores = [createBlobStateStore(cfg), createBlobStateStore(cfg)];
    await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        stores[i % 2]!.update((state) => {
          state.backends[`b${i}`] = record(`b${i}`);
        }),
      ),
    );
    const names = Object.keys((await stores[0]!.read()).backends).sort();
    expect(names).toEqual(Array.from({ length: 16 }, (_, i) => `b${i}`).sort());
  });

  it("rejects a corrupt blob with E_STATE naming the blob and leaves it untouched", async () => {
    const cfg = config();
    await putRaw(cfg, "{ not json");
    const store = createBlobStateStore(cfg);
    await expect(store.read()).rejects.toMatchObject({
      code: "E_STATE",
      message: expect.stringContaining(`${cfg.container}/state.json`),
    });
    await expect(store.update(() => undefined)).rejects.toMatchObject({ code: "E_STATE" });
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      cfg.container,
    );
    expect((await container.getBlockBlobClient(cfg.blobName).downloadToBuffer()).toString()).toBe("{ not json");
  });

  it("rejects a state of a newer version with E_STATE asking for an upgrade", async () => {
    const cfg = config();
    await putRaw(cfg, JSON.stringify({ version: 2, backends: {} }));
    await expect(createBlobStateStore(cfg).read()).rejects.toMatchObject({
      code: "E_STATE",
      message: expect.stringContaining("upgrade"),
    });
  });

  it("rejects a record of the wrong shape", async () => {
    const cfg = config();
    await putRaw(cfg, JSON.stringify({ version: 1, backends: { default: { provider: "local", id: 3 } } }));
    await expect(createBlobStateStore(cfg).read()).rejects.toMatchObject({
      code: "E_STATE",
      message: expect.stringContaining('"id"'),
    });
  });

  it("rejects a malformed owner id rather than making a new one", async () => {
    const cfg = config();
    await putRaw(cfg, JSON.stringify({ version: 1, owner: ["x"], backends: {} }));
    await expect(createBlobStateStore(cfg).read()).rejects.toMatchObject({
      code: "E_STATE",
      message: expect.stringContaining('"owner"'),
    });
  });

  it("names its location without the account key", () => {
    const store = createBlobStateStore(config());
    expect(store.location).toMatch(/^blob state-\d+-\d+\/state\.json$/);
  });

  it("fails with E_STATE, not a hang, when storage is unreachable", async () => {
    const store = createBlobStateStore(
      {
        connectionString: azurite.connectionString.replace(
          /BlobEndpoint=[^;]+/,
          "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1",
        ),
        container: "x",
        blobName: "state.json",
      },
      { retry: { maxTries: 2, retryDelayInMs: 50 } },
    );
    await expect(store.read()).rejects.toMatchObject({ code: "E_STATE" });
  });

  it("names the setting when the container URL is malformed", async () => {
    const store = createBlobStateStore({ containerUrl: "not a url", container: "x", blobName: "state.json" });
    await expect(store.read()).rejects.toMatchObject({
      code: "E_CONFIG",
      message: expect.stringContaining("ACIIMG_STATE_BLOB_URL"),
    });
  });

  it("reads and writes through a container URL carrying a SAS", async () => {
    const { ContainerSASPermissions, generateBlobSASQueryParameters, StorageSharedKeyCredential } = await import(
      "@azure/storage-blob"
    );
    const cfg = config();
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    await service.getContainerClient(cfg.container).createIfNotExists();
    const account = /AccountName=([^;]+)/.exec(azurite.connectionString)![1]!;
    const accountKey = /AccountKey=([^;]+)/.exec(azurite.connectionString)![1]!;
    const sas = generateBlobSASQueryParameters(
      {
        containerName: cfg.container,
        permissions: ContainerSASPermissions.parse("racw"),
        expiresOn: new Date(Date.now() + 3_600_000),
      },
      new StorageSharedKeyCredential(account, accountKey),
    ).toString();
    const containerUrl = `${azurite.blobEndpoint}/${cfg.container}?${sas}`;
    const store = createBlobStateStore({ containerUrl, container: "ignored", blobName: "state.json" });
    await store.update((state) => {
      state.backends.viaSas = record("viaSas");
    });
    expect(Object.keys((await createBlobStateStore(cfg).read()).backends)).toEqual(["viaSas"]);
    // The SAS is a secret: the location names the container only.
    expect(store.location).toBe(`blob ${azurite.blobEndpoint}/${cfg.container}/state.json`);
  });
});
