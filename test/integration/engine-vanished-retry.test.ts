/**
 * A call whose backend vanishes provisions again and replays the request (DESIGN.md §1), and does
 * so a bounded number of times. The race is made deterministic by a provider that wraps the real
 * local provider and deletes each of its first N backends the moment they are created, as a
 * reaper with a tiny idle limit can (reap removes any backend not used within the limit, and a
 * fresh one has not been used yet).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import sharp from "sharp";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createEngine } from "../../src/engine/engine.js";
import type { BackendSpec, Engine, Provider } from "../../src/engine/types.js";
import { createLocalProvider } from "../../src/providers/local/local.js";
import { createFileStateStore } from "../../src/state/file.js";
import { makeJpeg } from "../helpers/images.js";

const spec: BackendSpec = {
  name: "default",
  image: "unused",
  cpu: 1,
  memoryInGB: 1,
  maxUploadBytes: 20_000_000,
  maxResolutionMP: 18,
};

/** The real local provider, except that its first `doomed` backends are deleted as soon as they are up. */
function reapedOnArrival(inner: Provider, doomed: number): Provider & { created: () => number } {
  let created = 0;
  return {
    ...inner,
    kind: inner.kind,
    created: () => created,
    async create(backendSpec, options) {
      const record = await inner.create(backendSpec, options);
      created += 1;
      if (created <= doomed) await inner.delete(record);
      return record;
    },
  };
}

let jpeg: Buffer;
beforeAll(async () => {
  jpeg = await makeJpeg(320, 240);
});

describe("engine: a backend that vanishes under a call", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function engineWith(doomed: number): Promise<{ engine: Engine; provider: ReturnType<typeof reapedOnArrival> }> {
    const dir = await mkdtemp(join(tmpdir(), "aciimg-vanish-"));
    const local = createLocalProvider({ env: {}, logDir: join(dir, "local") });
    const provider = reapedOnArrival(local, doomed);
    const engine = createEngine({ provider, store: createFileStateStore({ path: join(dir, "state.json") }), spec });
    cleanups.push(async () => {
      await engine.close();
      for (const ref of await local.list()) await local.delete(ref);
      await rm(dir, { recursive: true, force: true });
    });
    return { engine, provider };
  }

  const resize = () => ({ op: "resize", query: new URLSearchParams({ width: "64", height: "48" }), body: jpeg });

  it("a call survives even the backend provisioned for its retry being reaped before the replay", async () => {
    const { engine, provider } = await engineWith(2);
    const response = await engine.call(resize());
    const meta = await sharp(await buffer(response.body)).metadata();
    expect([meta.width, meta.height]).toEqual([64, 48]);
    // First backend vanished, the retry's backend vanished too, the third served the call.
    expect(provider.created()).toBe(3);
  });

  it("the retries are bounded: a backend that keeps vanishing fails the call with E_BACKEND_UNREACHABLE", async () => {
    const { engine, provider } = await engineWith(Number.POSITIVE_INFINITY);
    await expect(engine.call(resize())).rejects.toMatchObject({ code: "E_BACKEND_UNREACHABLE" });
    // One try plus two retries, each on a freshly provisioned backend; no more.
    expect(provider.created()).toBe(3);
  });
});
