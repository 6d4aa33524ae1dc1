/**
 * The built-in backend reproduces imaginary's verified output sizes (docs/reference/imaginary-api.md §1.5, §5.2)
 * on sharp-made images of the same dimensions as imaginary's fixtures.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import sharp from "sharp";
import { request } from "undici";
import { startBackend, type RunningBackend } from "../../src/backend/server.js";
import { loadFixtures, type Fixtures } from "../helpers/images.js";

const key = "sizes-test-key";
let backend: RunningBackend;
let fx: Fixtures;

beforeAll(async () => {
  [backend, fx] = await Promise.all([startBackend({ apiKey: key }), loadFixtures()]);
});
afterAll(async () => backend.close());

async function post(path: string, body: Buffer, headers: Record<string, string> = {}) {
  const res = await request(`${backend.url}${path}`, { method: "POST", body, headers: { "API-Key": key, ...headers } });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, bytes };
}

async function sizeOf(path: string, image: Buffer): Promise<string> {
  const res = await post(path, image);
  if (res.status !== 200) return `${res.status} ${res.bytes.toString()}`;
  const meta = await sharp(res.bytes).metadata();
  expect(res.headers["image-width"]).toBe(String(meta.width));
  expect(res.headers["image-height"]).toBe(String(meta.height));
  return `${meta.width}x${meta.height} ${meta.format}`;
}

describe("sizes on large.jpg (1920x1080)", () => {
  test.each([
    ["/resize?width=300", "300x169"],
    ["/resize?width=300&height=200", "300x200"],
    ["/resize?width=300&nocrop=false", "300x1080"],
    ["/resize?width=3000", "1920x1080"],
    ["/fit?width=300&height=300", "300x169"],
    ["/enlarge?width=2400&height=1600", "2400x1600"],
    ["/enlarge?width=300&height=200", "300x200"],
    ["/extract?top=100&left=100&areawidth=200&areaheight=120", "200x120"],
    ["/crop?width=300", "300x1080"],
    ["/crop?width=300&height=200", "300x200"],
    ["/smartcrop?width=200&height=200", "200x200"],
    ["/rotate?rotate=90", "1080x1920"],
    ["/rotate?rotate=45", "1920x1080"],
    ["/rotate?rotate=200", "1920x1080"],
    ["/thumbnail?width=100", "100x56"],
    ["/thumbnail?width=100&height=100", "100x100"],
    ["/autorotate", "1920x1080"],
    ["/flip", "1920x1080"],
    ["/flop", "1920x1080"],
    ["/blur?sigma=2", "1920x1080"],
    ["/convert?type=png", "1920x1080 png"],
  ])("%s → %s", async (path, expected) => {
    const got = await sizeOf(path, fx.large.buffer);
    expect(got.startsWith(expected)).toBe(true);
    if (!expected.includes(" ")) expect(got).toBe(`${expected} jpeg`);
  });
});

describe("sizes on imaginary.jpg (550x740)", () => {
  test.each([
    ["/resize?width=300&height=300", "300x300"],
    ["/resize?width=300", "300x404"],
    ["/resize?width=300&nocrop=false", "300x740"],
    ["/resize?width=300&nocrop=true", "300x404"],
    ["/fit?width=300&height=300", "223x300"],
    ["/autorotate", "550x740"],
    ["/zoom?factor=2", "1650x2220"],
  ])("%s → %s", async (path, expected) => {
    expect(await sizeOf(path, fx.imaginary.buffer)).toBe(`${expected} jpeg`);
  });

  test("pipeline crop 300x260 then convert webp → image/webp 300x260", async () => {
    const ops = JSON.stringify([
      { operation: "crop", params: { width: 300, height: 260 } },
      { operation: "convert", ignore_failure: false, params: { type: "webp" } },
    ]);
    const res = await post(`/pipeline?operations=${encodeURIComponent(ops)}`, fx.imaginary.buffer);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("image/webp");
    const meta = await sharp(res.bytes).metadata();
    expect([meta.width, meta.height, meta.format]).toEqual([300, 260, "webp"]);
  });

  test("info reports imaginary's fields, the ICC profile included", async () => {
    const res = await post("/info", fx.imaginary.buffer);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(res.bytes.toString())).toEqual({
      width: 550,
      height: 740,
      type: "jpeg",
      space: "srgb",
      hasAlpha: false,
      hasProfile: true,
      channels: 3,
      orientation: 0,
    });
  });
});

describe("other fixtures", () => {
  test("smart-crop.jpg 700x1050 smartcrop 200x200 keeps the salient disc", async () => {
    expect(await sizeOf("/smartcrop?width=200&height=200", fx.smartCrop.buffer)).toBe("200x200 jpeg");
  });
  test("test.png 400x300 RGBA resizes to PNG with alpha kept", async () => {
    const res = await post("/resize?width=200", fx.png.buffer);
    const meta = await sharp(res.bytes).metadata();
    expect([meta.width, meta.height, meta.format, meta.hasAlpha]).toEqual([200, 150, "png", true]);
  });
  test("test.png info reports alpha and 4 channels", async () => {
    const res = await post("/info", fx.png.buffer);
    expect(JSON.parse(res.bytes.toString())).toMatchObject({
      width: 400,
      height: 300,
      type: "png",
      hasAlpha: true,
      channels: 4,
    });
  });
  test("test.webp 550x368 crops to WebP", async () => {
    expect(await sizeOf("/crop?width=100&height=100", fx.webp.buffer)).toBe("100x100 webp");
  });
  test("fit maths: 900x500 into 312 square → 312x173, into 313 → 313x174", async () => {
    const img = await sharp({ create: { width: 900, height: 500, channels: 3, background: "#336699" } })
      .jpeg()
      .toBuffer();
    expect(await sizeOf("/fit?width=312&height=312", img)).toBe("312x173 jpeg");
    expect(await sizeOf("/fit?width=313&height=313", img)).toBe("313x174 jpeg");
  });
});
