/**
 * The local backend stops itself after the idle limit (engine/idle-stop.ts, `aciimg backend
 * --idle-exit`): real `aciimg backend` processes started through compose with a 1 s idle limit, a
 * real state file, sharp-made images. Each wait is on the event (the backend's process exits),
 * bounded; nothing here measures elapsed time.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import sharp from "sharp";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { openEngine } from "../../src/compose.js";
import { loadConfig } from "../../src/config.js";
import { isProcessAlive } from "../../src/host-process.js";
import type { Engine, ImageRequest } from "../../src/engine/types.js";
import { createFileStateStore } from "../../src/state/file.js";
import { makeJpeg, resizeRequest } from "../helpers/images.js";

let jpeg: Buffer;
beforeAll(async () => {
  jpeg = await makeJpeg(320, 240);
});

const resize = (): ImageRequest => resizeRequest(jpeg);

describe("a local backend that stops itself when idle", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function engineIn(): Promise<{ engine: Engine; dir: string; statePath: string }> {
    const dir = await mkdtemp(join(tmpdir(), "aciimg-idle-stop-"));
    const statePath = join(dir, "state", "state.json");
    const engine = await openEngine(loadConfig({ provider: "local", state: statePath, cpu: "1", idle: "1s" }, {}, dir));
    cleanups.push(async () => {
      await engine.down().catch(() => undefined);
      await engine.close();
      await rm(dir, { recursive: true, force: true });
    });
    return { engine, dir, statePath };
  }

  async function resized(engine: Engine): Promise<number | undefined> {
    const response = await engine.call(resize());
    expect(response.status).toBe(200);
    return (await sharp(await buffer(response.body)).metadata()).width;
  }

  it("removes its record, entry, socket and log, then exits; an engine that still knew it gets a new one", async () => {
    const { engine, dir, statePath } = await engineIn();
    expect(await resized(engine)).toBe(64);
    const first = await recordIn(statePath);
    expect(first?.pid).toBeGreaterThan(0);
    await vi.waitFor(() => expect(isProcessAlive(first?.pid as number)).toBe(false), { timeout: 30_000, interval: 50 });
    expect(await recordIn(statePath)).toBeUndefined();
    expect(await engine.status()).toMatchObject({ state: "none", members: [] });
    expect(await readdir(join(dir, "state", "local"))).toEqual([]);
    // The engine still holds the stopped backend as its active one: the call finds it vanished and
    // provisions again (call-retry.ts), as after a reap.
    expect(await resized(engine)).toBe(64);
    const second = await recordIn(statePath);
    expect(second?.pid).toBeGreaterThan(0);
    expect(second?.id).not.toBe(first?.id);
  });
});

/** The backend the state file records under "default". */
async function recordIn(statePath: string): Promise<{ id: string; pid?: number } | undefined> {
  return (await createFileStateStore({ path: statePath }).read()).backends.default;
}
