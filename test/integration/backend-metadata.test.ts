/**
 * What the built-in backend keeps of a photo's metadata (`stripmeta`) and how it flattens
 * transparency (`background`), as imaginary on bimg 1.1.7 does (docs/reference/imaginary-api.md §1.4).
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import sharp from "sharp";
import { startBackend, type RunningBackend } from "../../src/backend/server.js";
import { isNear, pixelAt, quadrants } from "../helpers/images.js";
import {
  exifTags,
  expectCameraKept,
  gpsPointerTag,
  makeCameraJpeg,
  makeHalfTransparent,
  rgbaAt,
} from "../helpers/metadata.js";
import { call } from "./backend-http.js";

const key = "metadata-test-key";
let backend: RunningBackend;
let photo: Buffer;
const post = async (path: string, body: Buffer): Promise<Buffer> => {
  const reply = await call(backend.url, path, { body, headers: { "API-Key": key } });
  expect(reply.status, reply.bytes.toString()).toBe(200);
  return reply.bytes;
};

beforeAll(async () => {
  [backend, photo] = await Promise.all([startBackend({ apiKey: key }), makeCameraJpeg()]);
});
afterAll(async () => backend.close());

describe("stripmeta", () => {
  test("drops EXIF, GPS and XMP, turns the P3 pixels into sRGB, and leaves the photo upright with no tag", async () => {
    const input = await sharp(photo).metadata();
    expect([input.orientation, exifTags(input.exif ?? Buffer.alloc(0)).includes(gpsPointerTag)]).toEqual([6, true]);
    expect([input.xmp, input.icc].every(Boolean)).toBe(true);

    const out = await post("/resize?width=150&stripmeta=true", photo);
    const meta = await sharp(out).metadata();
    expect({ exif: meta.exif, xmp: meta.xmp, icc: meta.icc, orientation: meta.orientation }).toEqual({
      exif: undefined,
      xmp: undefined,
      icc: undefined,
      orientation: undefined,
    });
    expect([meta.width, meta.height]).toEqual([150, 100]);
    // Read without any profile: only pixels converted into sRGB show the upright red.
    const { data } = await sharp(out, { ignoreIcc: true }).raw().toBuffer({ resolveWithObject: true });
    expect(isNear([data[0] ?? 0, data[1] ?? 0, data[2] ?? 0], quadrants.topLeft, 30)).toBe(true);
  });

  test("without it, the camera, GPS, XMP and profile are kept, the orientation reset to 1 after rotating", async () => {
    const meta = await sharp(await post("/resize?width=150", photo)).metadata();
    expectCameraKept(meta, "ACME");
  });

  test("applies to every step of a pipeline", async () => {
    const operations = JSON.stringify([
      { operation: "resize", params: { width: 150, stripmeta: true } },
      { operation: "blur", params: { sigma: 1, stripmeta: true } },
    ]);
    const out = await post(`/pipeline?operations=${encodeURIComponent(operations)}`, photo);
    const meta = await sharp(out).metadata();
    expect([meta.exif, meta.xmp, meta.orientation, meta.width]).toEqual([undefined, undefined, undefined, 150]);
    expect(isNear(await pixelAt(out, 5, 5), quadrants.topLeft)).toBe(true);
  });
});

describe("background", () => {
  test("flattens the transparent areas of any input with alpha, a WebP as well as a PNG", async () => {
    for (const format of ["png", "webp"] as const) {
      const out = await post("/convert?type=jpeg&background=255,0,0", await makeHalfTransparent(format));
      expect(isNear(await pixelAt(out, 5, 20), [255, 0, 0]), format).toBe(true);
      expect(isNear(await pixelAt(out, 35, 20), [0, 0, 255]), format).toBe(true);
    }
  });

  test("an output that can hold transparency keeps it unless a colour is given; bimg skips black", async () => {
    const input = await makeHalfTransparent("png");
    expect((await rgbaAt(await post("/resize?width=40", input), 5, 20))[3]).toBe(0);
    expect((await rgbaAt(await post("/resize?width=40&background=0,0,0", input), 5, 20))[3]).toBe(0);
    const white = await post("/resize?width=40&background=255,255,255", input);
    expect(await rgbaAt(white, 5, 20)).toEqual([255, 255, 255, 255]);
  });
});
