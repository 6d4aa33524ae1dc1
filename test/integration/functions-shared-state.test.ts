/**
 * Two Function App instances share no disk, only the blob state: one processes images while the
 * other's cleanup timer reaps. Reaping must never fail a request, and nothing may be left running
 * that the state does not name.
 */
import { watch } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEngine } from "../../src/compose.js";
import { loadConfig, type Config } from "../../src/config.js";
import type { Engine } from "../../src/engine/types.js";
import { createBlobStateStore } from "../../src/state/blob.js";
import { startAzurite, type Azurite } from "../helpers/azurite.js";

let azurite: Azurite;
let dir: string;
let config: Config;
let processing: Engine;
let reaping: Engine;

beforeAll(async () => {
  azurite = await startAzurite();
  dir = await mkdtemp(join(tmpdir(), "aciimg-shared-"));
  config = loadConfig(
    { provider: "local", state: join(dir, "state.json") },
    {
      HOME: dir,
      AzureWebJobsStorage: azurite.connectionString,
      ACIIMG_STATE_BLOB_CONTAINER: `shared-${process.pid}`,
    },
    dir,
  );
  processing = await openEngine(config);
  reaping = await openEngine(config);
});

afterAll(async () => {
  await reaping?.reap({ idleMs: 0 }).catch(() => undefined);
  await processing?.close();
  await reaping?.close();
  await azurite?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("two engines sharing one blob state", () => {
  it("both hit a cold backend at once: one backend starts, every request succeeds", async () => {
    expect(await processing.provider.list()).toEqual([]);
    const photo = await sharp({ create: { width: 640, height: 480, channels: 3, background: "#3060a0" } })
      .jpeg()
      .toBuffer();
    // Every backend the local provider starts gets a registry entry: watching the directory counts
    // starts, including one that a loser of the race would start and then delete as surplus.
    const registry = join(dir, "local");
    await mkdir(registry, { recursive: true });
    const started = new Set<string>();
    const watcher = watch(registry, (_event, file) => {
      if (file && /^backend-\d+\.json$/.test(String(file))) started.add(String(file));
    });
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const engine = i % 2 === 0 ? processing : reaping;
        const response = await engine.call({
          op: "resize",
          query: new URLSearchParams("width=120&height=90"),
          body: photo,
        });
        const chunks: Buffer[] = [];
        for await (const chunk of response.body) chunks.push(chunk as Buffer);
        const meta = await sharp(Buffer.concat(chunks)).metadata();
        return `${meta.width}x${meta.height}`;
      }),
    );
    watcher.close();
    expect(results).toEqual(Array.from({ length: 20 }, () => "120x90"));
    // The provisioning claim in the blob (written under an ETag condition) let only one of them start one.
    expect(started.size).toBe(1);
    expect(await processing.provider.list()).toHaveLength(1);
    const state = await createBlobStateStore(config.blob).read();
    expect(state.backends.default?.status).toBe("running");
  });

  it("one processing while the other reaps: no failed request, no orphan", async () => {
    const photo = await sharp({ create: { width: 800, height: 600, channels: 3, background: "#a03060" } })
      .jpeg()
      .toBuffer();
    let working = true;
    const outcomes: string[] = [];

    const worker = async () => {
      for (let i = 0; i < 15; i++) {
        try {
          const response = await processing.call({
            op: "resize",
            query: new URLSearchParams("width=300&height=200"),
            body: photo,
          });
          const chunks: Buffer[] = [];
          for await (const chunk of response.body) chunks.push(chunk as Buffer);
          const meta = await sharp(Buffer.concat(chunks)).metadata();
          outcomes.push(`${response.status} ${meta.width}x${meta.height}`);
        } catch (error) {
          outcomes.push(`failed: ${(error as Error).message}`);
        }
      }
    };
    // An idle limit far below the gap between lastUsed writes (coalesced to every few seconds),
    // so the reaper deletes the backend under the worker again and again.
    const reaper = async () => {
      let removed = 0;
      for (let pass = 0; working && pass < 10_000; pass++) {
        const report = await reaping.reap({ idleMs: 150 });
        removed += report.removed.length;
        // Pacing between passes (not synchronisation): the loop ends on `working`, bounded by `pass`.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return removed;
    };

    const reaped = reaper();
    await Promise.all([worker(), worker(), worker()]);
    working = false;
    const removed = await reaped;

    expect(outcomes).toHaveLength(45);
    expect(outcomes.filter((o) => o !== "200 300x200")).toEqual([]);
    // The race really happened: backends were deleted while work was going on.
    expect(removed).toBeGreaterThan(0);

    // No orphan: everything running is named by the state…
    const state = await createBlobStateStore(config.blob).read();
    const recorded = new Set(Object.values(state.backends).map((record) => record.id));
    const running = await processing.provider.list();
    for (const ref of running) expect(recorded.has(ref.id), ref.id).toBe(true);
    // …and a final reap leaves nothing at all.
    await reaping.reap({ idleMs: 0 });
    expect(await processing.provider.list()).toEqual([]);
  });
});
