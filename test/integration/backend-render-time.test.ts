/**
 * One request's image work is bounded (issue 22, point 5): a 211-byte SVG whose filters librsvg
 * renders for minutes, and a raster operation far over the bound, are stopped when it runs out,
 * answered 422 in imaginary's error shape, and their one work slot serves the next request. The
 * bound here is 1 s; without it these requests would hold the slot for minutes (and time out).
 */
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import sharp from "sharp";
import { startBackend, type RunningBackend } from "../../src/backend/server.js";
import { childrenMatching, costlySvg } from "../helpers/costly-svg.js";
import { loadFixtures, type Fixtures } from "../helpers/images.js";
import { call } from "./backend-http.js";

const key = "render-time-test-key";
let backend: RunningBackend;
let fx: Fixtures;
const post = (path: string, body: Buffer) => call(backend.url, path, { body, headers: { "API-Key": key } });
const tooSlow = { status: 422, message: "Image processing took too long (limit 1 s, the backend's max render time)" };

beforeAll(async () => {
  // One work slot: a request left running would hold it, and the next request would wait behind it.
  const starting = startBackend({ apiKey: key, concurrency: 1, maxRenderTimeMs: 1000 });
  [backend, fx] = await Promise.all([starting, loadFixtures()]);
});
afterAll(async () => backend.close());

describe("max render time (1 s, one work slot)", () => {
  test("a filter SVG that renders for minutes is stopped: 422, no render left, the slot serves the next", async () => {
    const res = await post("/convert?type=png", costlySvg());
    expect(res.status).toBe(422);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(res.json()).toEqual(tooSlow);
    // The render was killed, not abandoned: nothing keeps burning the CPU.
    await vi.waitFor(async () => expect(await childrenMatching("sharp")).toEqual([]), { timeout: 5000 });
    const next = await post("/convert?type=png", fx.svg.buffer);
    expect(next.status).toBe(200);
    expect(await sharp(next.bytes).metadata()).toMatchObject({ format: "png", width: 172, height: 42 });
  }, 20_000);

  test("a pipeline starting on the costly SVG is stopped the same way", async () => {
    const ops = encodeURIComponent(JSON.stringify([{ operation: "resize", params: { width: 100, type: "png" } }]));
    const res = await post(`/pipeline?operations=${ops}`, costlySvg());
    expect(res.json()).toEqual(tooSlow);
  }, 20_000);

  test("an ordinary SVG still renders, resized and in a pipeline", async () => {
    const res = await post("/resize?width=86&type=png", fx.svg.buffer);
    expect(res.status).toBe(200);
    expect(res.headers["image-width"]).toBe("86");
    const steps = [
      { operation: "flip", params: { type: "jpeg" } },
      { operation: "resize", params: { width: 50 } },
    ];
    const ops = encodeURIComponent(JSON.stringify(steps));
    const piped = await post(`/pipeline?operations=${ops}`, fx.svg.buffer);
    expect(piped.status).toBe(200);
    expect(await sharp(piped.bytes).metadata()).toMatchObject({ format: "jpeg", width: 50 });
  });

  test("an SVG the params refuse is refused before it is rendered (400, not 422)", async () => {
    const res = await post("/resize?type=png", costlySvg());
    const message = "Error while processing the image: Missing required param: height or width";
    expect(res.json()).toEqual({ status: 400, message });
  });

  test("raster work over the bound is stopped by libvips (a photo enlarged to 72 MP, blurred, PNG)", async () => {
    // Over 20 s of one core here; every step is within the cost limits (plan.ts), only the time is not.
    const res = await post("/enlarge?width=11300&height=6356&sigma=50&type=png&compression=9", fx.large.buffer);
    expect(res.json()).toEqual(tooSlow);
    const next = await post("/resize?width=100", fx.large.buffer);
    expect(next.status).toBe(200);
  }, 60_000);
});
