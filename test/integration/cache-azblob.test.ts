/**
 * The blob rendition cache (`--cache azblob:<container URL>`) on Azurite: the contract suite, then
 * its own: the container made on the first put, each way to authenticate (connection string, SAS,
 * a credential), no secret in `describe` or a warning, and a store that fails or refuses turned
 * off (or only its writes) instead of slowing every image.
 */
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { BlobServiceClient } from "@azure/storage-blob";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { type CacheOptions, openRenditionCache } from "../../src/cli/batch/cache/index.js";
import { azuriteForFile, containerSas } from "../helpers/azurite.js";
import {
  type CacheFixture,
  describeRenditionCache,
  entryBytes,
  keyOf,
  makeRendition,
  type OpenedCache,
} from "../helpers/cache-contract.js";

const azurite = azuriteForFile();
let containerSeq = 0;

/** A fresh container name per test, so tests never see each other's entries. */
function newContainer(): string {
  containerSeq += 1;
  return `cache-${process.pid}-${containerSeq}`;
}

const service = () => BlobServiceClient.fromConnectionString(azurite().connectionString);
const accountKey = () => /AccountKey=([^;]+)/.exec(azurite().connectionString)?.[1] as string;

async function openAt(url: string, options: Partial<CacheOptions> = {}): Promise<OpenedCache> {
  const warnings: string[] = [];
  const cache = await openRenditionCache(
    `azblob:${url}`,
    { warn: (text) => warnings.push(text), retry: { maxTries: 2, retryDelayInMs: 20 }, ...options },
    "/",
  );
  return { cache, warnings };
}

async function plantIn(container: string, key: string, data: Buffer): Promise<void> {
  const client = service().getContainerClient(container);
  await client.createIfNotExists();
  await client.getBlockBlobClient(`renditions/${key}`).upload(data, data.length);
}

describeRenditionCache("Azure Blob on Azurite", async (): Promise<CacheFixture> => {
  const container = newContainer();
  return {
    open: (options) =>
      openAt(`${azurite().blobEndpoint}/${container}`, { connectionString: azurite().connectionString, ...options }),
    plant: (key, data) => plantIn(container, key, data),
    cleanup: async () => {
      await service().getContainerClient(container).deleteIfExists();
    },
  };
});

describe("blob cache on Azurite", () => {
  it("makes the container on the first put, and names it without the account key", async () => {
    const container = newContainer();
    const url = `${azurite().blobEndpoint}/${container}`;
    const { cache, warnings } = await openAt(url, { connectionString: azurite().connectionString });
    expect(cache.describe).toBe(`azblob ${url}`);
    expect(await service().getContainerClient(container).exists()).toBe(false);
    await cache.put(keyOf("a"), await makeRendition(1));
    expect(await service().getContainerClient(container).exists()).toBe(true);
    const blobs = [];
    for await (const blob of service().getContainerClient(container).listBlobsFlat()) blobs.push(blob.name);
    expect(blobs).toEqual([`renditions/${keyOf("a")}`]);
    expect(warnings).toEqual([]);
  });

  it("authenticates with a SAS in the URL, which is in neither describe nor a warning", async () => {
    const container = newContainer();
    await service().createContainer(container);
    const sas = await containerSas(container, "racwd");
    const signature = new URLSearchParams(sas).get("sig") as string;
    const { cache, warnings } = await openAt(`${azurite().blobEndpoint}/${container}?${sas}`);
    expect(cache.describe).toBe(`azblob ${azurite().blobEndpoint}/${container}`);
    const rendition = await makeRendition(2);
    await cache.put(keyOf("b"), rendition);
    expect((await cache.get(keyOf("b")))?.body.equals(rendition.body)).toBe(true);
    await plantIn(container, keyOf("c"), Buffer.from("damaged"));
    expect(await cache.get(keyOf("c"))).toBeUndefined();
    expect(warnings).toHaveLength(1);
    for (const text of [cache.describe, ...warnings]) {
      expect(text).not.toContain(signature);
      expect(text).not.toContain(encodeURIComponent(signature));
    }
  });

  it("with a read-only SAS, reads on and stops storing after the first refused put", async () => {
    const container = newContainer();
    await service().createContainer(container);
    const rendition = await makeRendition(3);
    await plantIn(container, keyOf("d"), entryBytes(keyOf("d"), rendition));
    const { cache, warnings } = await openAt(
      `${azurite().blobEndpoint}/${container}?${await containerSas(container, "r")}`,
    );
    await cache.put(keyOf("e"), rendition);
    await cache.put(keyOf("f"), rendition);
    expect(warnings).toEqual([expect.stringMatching(/cannot store .*HTTP 403.*nothing more is stored in this run$/)]);
    expect((await cache.get(keyOf("d")))?.meta).toEqual(rendition.meta);
    expect(
      await service()
        .getContainerClient(container)
        .getBlockBlobClient(`renditions/${keyOf("e")}`)
        .exists(),
    ).toBe(false);
  });

  it("keeps the account key of a connection string out of describe and warnings", async () => {
    const container = newContainer();
    const { cache, warnings } = await openAt(`${azurite().blobEndpoint}/${container}`, {
      connectionString: azurite().connectionString,
    });
    await plantIn(container, keyOf("g"), Buffer.from("damaged"));
    expect(await cache.get(keyOf("g"))).toBeUndefined();
    expect(warnings).toHaveLength(1);
    for (const text of [cache.describe, ...warnings]) expect(text).not.toContain(accountKey());
  });

  it("uses a connection string only for its own account, and over http:// no credential", async () => {
    const container = newContainer();
    const asked: string[] = [];
    const credential: TokenCredential = {
      async getToken(scopes): Promise<AccessToken | null> {
        asked.push(String(scopes));
        return null;
      },
    };
    // Same Azurite, another spelling of its host: not the connection string's endpoint.
    const url = `${azurite().blobEndpoint.replace("127.0.0.1", "localhost")}/${container}`;
    const { cache, warnings } = await openAt(url, { connectionString: azurite().connectionString, credential });
    await cache.put(keyOf("h"), await makeRendition(1));
    expect(await cache.get(keyOf("h"))).toBeUndefined();
    expect(warnings).toEqual([
      expect.stringMatching(/an http:\/\/ URL needs a SAS in it or .*; the cache is off for this run$/),
    ]);
    expect(asked).toEqual([]);
    expect(await service().getContainerClient(container).exists()).toBe(false);
  });

  it("turns off after three failures in a row when storage is unreachable: misses, bounded, no crash", async () => {
    const dead = "http://127.0.0.1:9/devstoreaccount1";
    const connectionString = azurite().connectionString.replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=${dead}`);
    const { cache, warnings } = await openAt(`${dead}/gone`, {
      connectionString,
      retry: { maxTries: 1, retryDelayInMs: 10 },
    });
    for (const name of ["j", "k", "l", "m"]) expect(await cache.get(keyOf(name))).toBeUndefined();
    await cache.put(keyOf("n"), await makeRendition(4));
    expect(warnings).toHaveLength(3);
    expect(warnings[2]).toMatch(/; the cache is off for the rest of this run$/);
  });

  it("misses when storage accepts the connection and never answers, with a warning that says so", async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/devstoreaccount1`;
    try {
      const connectionString = azurite().connectionString.replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=${endpoint}`);
      const { cache, warnings } = await openAt(`${endpoint}/silent`, {
        connectionString,
        requestTimeoutMs: 300,
        retry: { maxTries: 1, retryDelayInMs: 10 },
      });
      expect(await cache.get(keyOf("o"))).toBeUndefined();
      expect(warnings).toEqual([expect.stringContaining("no answer within 300 ms")]);
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
