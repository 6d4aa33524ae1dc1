/**
 * `serve` sends a multipart upload's image to the backend as application/octet-stream (issue 22,
 * point 7): the part's own Content-Type was forwarded, and a part saying "multipart/form-data;
 * boundary=x" made the backend parse the image as a multipart body again (400 "multipart:
 * NextPart: EOF"). Real engine, local provider, real backend process.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEngine } from "../../src/compose.js";
import { loadConfig } from "../../src/config.js";
import type { Engine } from "../../src/engine/types.js";
import { startHttpServer, type HttpServer } from "../../src/http/server.js";
import { loadFixtures, type Fixtures } from "../helpers/images.js";

const KEY = "serve-multipart-test-key-0123456789";
let dir: string;
let engine: Engine;
let server: HttpServer;
let fx: Fixtures;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "aciimg-serve-multipart-"));
  engine = await openEngine(loadConfig({ provider: "local", state: join(dir, "state.json") }, { HOME: dir }, dir));
  const options = { engine, host: "127.0.0.1", port: 0, key: KEY, maxUploadBytes: 1e6, log: () => {}, reapEveryMs: 0 };
  [server, fx] = await Promise.all([startHttpServer(options), loadFixtures()]);
});
afterAll(async () => {
  await server?.close();
  await engine?.down().catch(() => undefined);
  await engine?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const post = (path: string, body: Uint8Array, headers: Record<string, string>) =>
  fetch(`${server.url}${path}`, { method: "POST", body, headers: { "api-key": KEY, ...headers } });

describe("serve's multipart uploads", () => {
  it("sends the part to the backend as application/octet-stream, whatever the part's Content-Type says", async () => {
    const boundary = "aciimgpart";
    const photo = fx.large.buffer;
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n` +
          "Content-Type: multipart/form-data; boundary=x\r\n\r\n",
      ),
      photo,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const contentType = `multipart/form-data; boundary=${boundary}`;
    const res = await post("/resize?width=64", body, { "content-type": contentType });
    expect(res.status).toBe(200);
    expect(res.headers.get("image-width")).toBe("64");
  });
});
