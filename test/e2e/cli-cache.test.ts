/**
 * The shared rendition cache for ephemeral CI runners (docs/configuration.md "The rendition
 * cache"), through the spawned CLI: a runner makes the renditions and stores them; a fresh runner
 * (its own state, an empty output folder) fetches every one instead of starting a backend, as a
 * folder and on Azure Blob storage (Azurite, with a SAS given through ACIIMG_CACHE, not argv).
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { azuriteForFile, containerSas } from "../helpers/azurite.js";
import { jsonLines, outputsIn, workspacesFor, writeJpeg, type Workspace } from "./cli-harness.js";

const workspace = workspacesFor("aciimg-e2e-cache-");
const args = ["process", "photos", "--width", "160,320", "--type", "webp,jpeg", "-o", "web/", "--json"];

const azurite = azuriteForFile();

/** A runner's checkout: the same two photos (same bytes) in a fresh workspace. */
async function runner(photos: Map<string, Buffer>): Promise<Workspace> {
  const ws = await workspace();
  await mkdir(join(ws.dir, "photos"));
  for (const [name, bytes] of photos) await writeFile(join(ws.dir, "photos", name), bytes);
  return ws;
}

async function photoBytes(dir: string): Promise<Map<string, Buffer>> {
  await mkdir(join(dir, "src"), { recursive: true });
  await writeJpeg(join(dir, "src", "a.jpg"), 640, 480);
  await writeJpeg(join(dir, "src", "b.jpg"), 300, 200);
  return new Map([
    ["a.jpg", await readFile(join(dir, "src", "a.jpg"))],
    ["b.jpg", await readFile(join(dir, "src", "b.jpg"))],
  ]);
}

const sha = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

/** Runs the renditions on `ws` with `env`; the summary. */
async function build(ws: Workspace, extra: string[], env: Record<string, string> = {}) {
  const result = await ws.run([...args, ...extra], { env });
  expect(result.code, result.stderr).toBe(0);
  return { summary: jsonLines(result.stdout).at(-1)?.summary as Record<string, number>, stderr: result.stderr };
}

/** Whether the workspace's state holds a backend: none means none was started. */
async function startedABackend(ws: Workspace): Promise<boolean> {
  return existsSync(ws.statePath) && Object.keys((await ws.state()).backends ?? {}).length > 0;
}

/** Runner one makes and stores; runner two, fresh, fetches all with no backend; the bytes are the same. */
async function sharedBetweenRunners(cacheArgs: string[], env: Record<string, string> = {}): Promise<void> {
  const first = await workspace();
  const photos = await photoBytes(first.dir);
  const one = await runner(photos);
  const made = await build(one, cacheArgs, env);
  // b.jpg is 300 px wide: 160 and 300, in two formats; a.jpg 160 and 320.
  expect(made.summary).toMatchObject({ total: 8, ok: 8, cached: 0 });
  const two = await runner(photos);
  const fetched = await build(two, cacheArgs, env);
  expect(fetched.summary).toMatchObject({ total: 8, ok: 8, cached: 8 });
  expect(await startedABackend(two)).toBe(false);
  const names = await outputsIn(join(one.dir, "web"));
  expect(await outputsIn(join(two.dir, "web"))).toEqual(names);
  for (const name of names)
    expect(await sha(join(two.dir, "web", name)), name).toBe(await sha(join(one.dir, "web", name)));
  // The fresh runner's record holds them: its next run is up to date without the cache.
  const again = await build(two, []);
  expect(again.summary).toMatchObject({ total: 8, upToDate: 8 });
}

describe("a shared cache between CI runners", () => {
  it("a folder: a fresh runner fetches every rendition and starts no backend", async () => {
    const shared = await workspace();
    await sharedBetweenRunners(["--cache", join(shared.dir, "cache")]);
  });

  it("Azure Blob (Azurite): the same, the container URL and its SAS from ACIIMG_CACHE", async () => {
    const container = `renditions-${process.pid}`;
    // A container SAS cannot create its container: the storage account's owner made it.
    const { BlobServiceClient } = await import("@azure/storage-blob");
    await BlobServiceClient.fromConnectionString(azurite().connectionString).getContainerClient(container).create();
    const url = `${azurite().blobEndpoint}/${container}?${await containerSas(container, "racwd")}`;
    await sharedBetweenRunners([], { ACIIMG_CACHE: `azblob:${url}` });
  });
});
