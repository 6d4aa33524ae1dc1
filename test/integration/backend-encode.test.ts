/**
 * The built-in backend's output formats and encoder params over HTTP (src/protocol/encoder.ts):
 * `type=avif` on every operation and pipeline step, answered as image/avif; `interlace`,
 * `mozjpeg`, `lossless` and `effort` in a query and in a pipeline step; an animation written as
 * AVIF is its first frame, said so. A real backend on loopback, images made by sharp.
 */
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startBackend, type RunningBackend } from "../../src/backend/server.js";
import { flattenedHeader } from "../../src/protocol/frames.js";
import type { ImageOperationName } from "../../src/protocol/operations.js";
import { animatedGif } from "../helpers/damaged.js";
import { makeJpeg } from "../helpers/images.js";
import { call, type Reply } from "./backend-http.js";

const key = "encode-test-key";
let backend: RunningBackend;
let photo: Buffer;

beforeAll(async () => {
  [backend, photo] = await Promise.all([startBackend({ apiKey: key }), makeJpeg(160, 120)]);
});
afterAll(async () => {
  await backend?.close();
});

const post = (path: string, body: Buffer): Promise<Reply> =>
  call(backend.url, path, { body, headers: { "API-Key": key } });
const isAvif = (bytes: Buffer): boolean => bytes.subarray(4, 12).toString("latin1") === "ftypavif";
const pipeline = (operations: unknown[]): string =>
  `/pipeline?operations=${encodeURIComponent(JSON.stringify(operations))}`;

/** Each image operation with the params it needs (autorotate ignores every param, `type` too: §1.5). */
const required: Record<Exclude<ImageOperationName, "watermarkimage" | "autorotate">, string> = {
  resize: "width=80",
  fit: "width=80&height=80",
  enlarge: "width=200&height=150",
  extract: "areawidth=40&areaheight=30",
  crop: "width=80",
  smartcrop: "width=60&height=60",
  rotate: "rotate=90",
  flip: "",
  flop: "",
  thumbnail: "width=50",
  zoom: "factor=1",
  convert: "",
  blur: "sigma=1",
  watermark: "text=aciimg",
};

describe("type=avif", () => {
  test.each(Object.entries(required))("/%s answers image/avif", async (op, params) => {
    const reply = await post(`/${op}?type=avif&${params}`, photo);
    expect(reply.status, reply.bytes.toString()).toBe(200);
    expect(reply.headers["content-type"]).toBe("image/avif");
    expect(isAvif(reply.bytes)).toBe(true);
  });

  test("on every pipeline step, and an AVIF input keeps its format when no type is given", async () => {
    const operations = [
      { operation: "resize", params: { width: 100, type: "avif" } },
      { operation: "blur", params: { sigma: 1, type: "avif" } },
    ];
    const reply = await post(pipeline(operations), photo);
    expect(reply.headers["content-type"]).toBe("image/avif");
    expect(reply.headers["image-width"]).toBe("100");
    const again = await post("/resize?width=50", reply.bytes);
    expect([again.status, again.headers["content-type"], isAvif(again.bytes)]).toEqual([200, "image/avif", true]);
    // autorotate ignores every param (§1.5): an AVIF stays one.
    const rotated = await post("/autorotate?type=jpeg", reply.bytes);
    expect(rotated.headers["content-type"]).toBe("image/avif");
  });

  test("of an animated GIF is its first frame, and the answer says so", async () => {
    const reply = await post("/resize?width=60&type=avif", await animatedGif(8, 120, 80));
    expect(reply.status).toBe(200);
    expect(reply.headers[flattenedHeader]).toBe("8; AVIF is written as a still image");
    // sharp would write the 8 frames as one tall picture: 60 x 320.
    expect(await sharp(reply.bytes).metadata()).toMatchObject({ width: 60, height: 40, pages: 1 });
  });
});

/** A WebP's chunk names (metadata kept: VP8X, ICCP, EXIF, then the image's VP8 or VP8L). */
function webpChunks(webp: Buffer): string[] {
  const names: string[] = [];
  for (let at = 12; at + 8 <= webp.length; at += 8 + webp.readUInt32LE(at + 4) + (webp.readUInt32LE(at + 4) % 2)) {
    names.push(webp.subarray(at, at + 4).toString("latin1"));
  }
  return names;
}

describe("encoder params", () => {
  const frameMarker = (jpeg: Buffer): number => {
    const sof = [0xc0, 0xc2].map((m) => jpeg.indexOf(Buffer.from([0xff, m]))).filter((at) => at > 0);
    return jpeg[Math.min(...sof) + 1] ?? 0;
  };

  test("interlace and mozjpeg make a progressive JPEG, in a query and in a pipeline step", async () => {
    const [baseline, interlaced, mozjpeg, stepped] = await Promise.all([
      post("/resize?width=100&type=jpeg", photo),
      post("/resize?width=100&type=jpeg&interlace=true", photo),
      post("/resize?width=100&type=jpeg&mozjpeg=true", photo),
      post(pipeline([{ operation: "resize", params: { width: 100, type: "jpeg", mozjpeg: true } }]), photo),
    ]);
    expect([baseline, interlaced, mozjpeg, stepped].map((r) => frameMarker(r.bytes))).toEqual([0xc0, 0xc2, 0xc2, 0xc2]);
    expect(stepped.bytes.equals(mozjpeg.bytes)).toBe(true);
  });

  test("lossless and effort make a lossless WebP, in a query and in a pipeline step", async () => {
    const query = await post("/resize?width=100&type=webp&lossless=1&effort=9", photo);
    const step = await post(
      pipeline([{ operation: "resize", params: { width: 100, type: "webp", lossless: true, effort: 9 } }]),
      photo,
    );
    for (const reply of [query, step]) expect(webpChunks(reply.bytes)).toContain("VP8L");
    expect(step.bytes.equals(query.bytes)).toBe(true);
  });

  test("a malformed value is imaginary's 400 for a param", async () => {
    const reply = await post("/resize?width=100&lossless=yes", photo);
    expect(reply.status).toBe(400);
    expect(reply.json()).toMatchObject({ message: expect.stringContaining('parameter "lossless" with value "yes"') });
  });
});
