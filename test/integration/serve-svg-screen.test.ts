/**
 * `serve` in front of a backend that cannot stop a render (issue 22, point 5): with `screenSvg`
 * (on aci, unless --allow-svg-filters) an SVG with filters is refused 400 in imaginary's shape
 * before any backend is woken, whether it arrives raw or in a multipart part; an ordinary SVG
 * goes through. Real engine, local provider, real backend process.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEngine } from "../../src/compose.js";
import { loadConfig } from "../../src/config.js";
import type { Engine } from "../../src/engine/types.js";
import { startHttpServer, type HttpServer } from "../../src/http/server.js";
import { costlySvg } from "../helpers/costly-svg.js";
import { loadFixtures, type Fixtures } from "../helpers/images.js";

const KEY = "serve-svg-test-key-0123456789";
let dir: string;
let engine: Engine;
let screening: HttpServer;
let fx: Fixtures;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "aciimg-serve-svg-"));
  engine = await openEngine(loadConfig({ provider: "local", state: join(dir, "state.json") }, { HOME: dir }, dir));
  const common = { engine, host: "127.0.0.1", port: 0, key: KEY, maxUploadBytes: 1e6, log: () => {}, reapEveryMs: 0 };
  [screening, fx] = await Promise.all([startHttpServer({ ...common, screenSvg: true }), loadFixtures()]);
});
afterAll(async () => {
  await screening?.close();
  await engine?.down().catch(() => undefined);
  await engine?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const post = (server: HttpServer, path: string, body: Uint8Array | FormData, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, { method: "POST", body, headers: { "api-key": KEY, ...headers } });

describe("serve's SVG screen", () => {
  it("refuses a filter SVG, raw or multipart: 400 naming the construct and the opt-in, no backend woken", async () => {
    const raw = await post(screening, "/convert?type=png", costlySvg());
    expect(raw.status).toBe(400);
    expect(raw.headers.get("content-type")).toBe("application/json");
    const message = expect.stringMatching(/^SVG input refused: it has <filter> .*--allow-svg-filters/);
    expect(await raw.json()).toEqual({ status: 400, message });
    const form = new FormData();
    form.append("file", new Blob([costlySvg()], { type: "image/svg+xml" }), "x.svg");
    const multipart = await post(screening, "/convert?type=png", form);
    expect(await multipart.json()).toMatchObject({ status: 400, message: expect.stringContaining("<filter>") });
    // A body past the relay's 4 KiB prefix is read whole before it is judged.
    const padded = Buffer.from(
      costlySvg()
        .toString()
        .replace("<filter", `<desc>${"x".repeat(8000)}</desc><filter`),
    );
    expect((await post(screening, "/convert?type=png", padded)).status).toBe(400);
    expect((await engine.status()).state).toBe("none");
  });

  it("passes an ordinary SVG", async () => {
    const res = await post(screening, "/convert?type=png", fx.svg.buffer);
    expect(res.status).toBe(200);
    expect(await sharp(Buffer.from(await res.arrayBuffer())).metadata()).toMatchObject({ format: "png", width: 172 });
  });
});
