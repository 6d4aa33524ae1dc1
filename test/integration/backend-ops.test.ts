/**
 * Operation semantics of the built-in backend: EXIF orientations 1–8, bimg's flip/flop/rotate
 * order, every parameter family, and the /pipeline rules (docs/reference/imaginary-api.md §1.4–§1.6).
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import sharp from "sharp";
import { startBackend, type RunningBackend } from "../../src/backend/server.js";
import {
  isNear,
  loadFixtures,
  makeOrientedJpeg,
  orientedSize,
  pixelAt,
  quadrants,
  type Fixtures,
  type Orientation,
  type Rgb,
} from "../helpers/images.js";
import { call, multipart } from "./backend-http.js";

const key = "ops-test-key";
let backend: RunningBackend;
let fx: Fixtures;
let upright: Buffer;
const post = (path: string, body: Buffer | string, headers: Record<string, string> = {}) =>
  call(backend.url, path, { body, headers: { "API-Key": key, ...headers } });

beforeAll(async () => {
  [backend, fx, upright] = await Promise.all([startBackend({ apiKey: key }), loadFixtures(), makeOrientedJpeg(1)]);
});
afterAll(async () => backend.close());

/** Colours at the four corners (inset 5 px): [topLeft, topRight, bottomLeft, bottomRight]. */
async function corners(image: Buffer): Promise<Rgb[]> {
  const { width = 0, height = 0 } = await sharp(image).metadata();
  return Promise.all(
    [
      [5, 5],
      [width - 6, 5],
      [5, height - 6],
      [width - 6, height - 6],
    ].map(([x, y]) => pixelAt(image, x ?? 0, y ?? 0)),
  );
}
function expectCorners(actual: Rgb[], expected: Rgb[]): void {
  expected.forEach((c, i) =>
    expect(isNear(actual[i] ?? [0, 0, 0], c), `corner ${i}: ${actual[i]?.join(",")} vs ${c.join(",")}`).toBe(true),
  );
}
const { topLeft: R, topRight: G, bottomLeft: B, bottomRight: W } = quadrants;

describe("EXIF orientation", () => {
  test.each([1, 2, 3, 4, 5, 6, 7, 8] as Orientation[])(
    "orientation %i is auto-rotated upright by every op",
    async (o) => {
      const input = await makeOrientedJpeg(o);
      const resized = await post("/resize?width=150", input);
      expect([resized.headers["image-width"], resized.headers["image-height"]]).toEqual(["150", "100"]);
      expectCorners(await corners(resized.bytes), [R, G, B, W]);
      const auto = await post("/autorotate", input);
      expect((await sharp(auto.bytes).metadata()).width).toBe(orientedSize.width);
      expectCorners(await corners(auto.bytes), [R, G, B, W]);
      expect((await sharp(auto.bytes).metadata()).orientation ?? 1).toBe(1);
      expect((await post("/info", input)).json()).toMatchObject({ orientation: o, width: o > 4 ? 200 : 300 });
    },
  );

  test.each([6, 8] as Orientation[])("norotation keeps the stored pixels of orientation %i", async (o) => {
    const input = await makeOrientedJpeg(o);
    const res = await post("/flip?norotation=true", input);
    expect([res.headers["image-width"], res.headers["image-height"]]).toEqual(["200", "300"]);
    const stored = await sharp(input).flop().png().toBuffer();
    expectCorners(await corners(res.bytes), await corners(stored));
  });

  test("fit keeps imaginary's box swap for orientations 5-8 (image.go Fit)", async () => {
    // imaginary computes the box on swapped sides, so a 300x200 upright image gets a 67x100 box.
    const res = await post("/fit?width=100&height=100", await makeOrientedJpeg(6));
    expect([res.headers["image-width"], res.headers["image-height"]]).toEqual(["67", "100"]);
    const plain = await post("/fit?width=100&height=100", upright);
    expect([plain.headers["image-width"], plain.headers["image-height"]]).toEqual(["100", "67"]);
  });
});

describe("rotate, flip and flop follow bimg", () => {
  test("flip mirrors left-right and flop up-down (bimg directions)", async () => {
    expectCorners(await corners((await post("/flip", upright)).bytes), [G, R, W, B]);
    expectCorners(await corners((await post("/flop", upright)).bytes), [B, W, R, G]);
  });
  test("rotate=90 turns clockwise, and flip applies after the rotation", async () => {
    expectCorners(await corners((await post("/rotate?rotate=90", upright)).bytes), [B, R, W, G]);
    expectCorners(await corners((await post("/rotate?rotate=90&flip=true", upright)).bytes), [R, B, G, W]);
    // 360 → capped at 270
    expectCorners(await corners((await post("/rotate?rotate=400", upright)).bytes), [G, W, R, B]);
  });
});

describe("parameter families", () => {
  const meta = async (path: string, input: Buffer) => {
    const res = await post(path, input);
    expect(res.status, res.bytes.toString().slice(0, 200)).toBe(200);
    return { res, meta: await sharp(res.bytes).metadata() };
  };
  test("quality defaults to 75 and changes the size", async () => {
    const [low, def, q75, high] = await Promise.all(
      ["quality=10", "", "quality=75", "quality=95"].map((q) => post(`/convert?type=jpeg&${q}`, fx.large.buffer)),
    );
    expect(low!.bytes.length).toBeLessThan(def!.bytes.length);
    expect(def!.bytes.length).toBe(q75!.bytes.length);
    expect(high!.bytes.length).toBeGreaterThan(def!.bytes.length);
  });
  test("compression, palette and interlace shape PNG/JPEG output", async () => {
    const [fast, small] = await Promise.all([
      post("/convert?type=png&compression=1", fx.png.buffer),
      post("/convert?type=png&compression=9", fx.png.buffer),
    ]);
    expect(small.bytes.length).toBeLessThan(fast.bytes.length);
    expect((await meta("/convert?type=png&palette=true", fx.png.buffer)).meta.isPalette).toBe(true);
    expect((await meta("/convert?type=jpeg&interlace=true", fx.large.buffer)).meta.isProgressive).toBe(true);
    expect((await meta("/convert?type=tiff", fx.large.buffer)).meta.format).toBe("tiff");
  });
  test("the ICC profile is kept unless noprofile or stripmeta", async () => {
    expect((await meta("/resize?width=100", fx.imaginary.buffer)).meta.hasProfile).toBe(true);
    expect((await meta("/resize?width=100&noprofile=true", fx.imaginary.buffer)).meta.hasProfile).toBe(false);
    expect((await meta("/resize?width=100&stripmeta=true", fx.imaginary.buffer)).meta.hasProfile).toBe(false);
  });
  test("colorspace=bw gives a grey image", async () => {
    const m = (await meta("/resize?width=100&colorspace=bw", fx.large.buffer)).meta;
    expect([m.channels, m.space]).toEqual([1, "b-w"]);
  });
  test("extend fills the embed area: white, black, background colour", async () => {
    const padded = async (q: string) =>
      pixelAt((await post(`/resize?width=300&height=300&${q}`, upright)).bytes, 10, 2);
    expect(await padded("extend=white")).toSatisfy((c: Rgb) => isNear(c, [255, 255, 255]));
    expect(await padded("extend=black")).toSatisfy((c: Rgb) => isNear(c, [0, 0, 0]));
    expect(await padded("extend=background&background=10,200,30")).toSatisfy((c: Rgb) => isNear(c, [10, 200, 30]));
    expect(await padded("")).toSatisfy((c: Rgb) => isNear(c, R)); // default copy repeats the red top edge
  });
  test("force, aspectratio and embed", async () => {
    expect((await meta("/resize?width=300&height=300&force=true", fx.large.buffer)).meta.height).toBe(300);
    const ar = (await meta("/resize?width=300&aspectratio=1:1", fx.large.buffer)).meta;
    expect([ar.width, ar.height]).toEqual([300, 300]);
    const em = (await meta("/thumbnail?width=300&height=300&embed=true", fx.large.buffer)).meta;
    expect([em.width, em.height]).toEqual([300, 300]);
  });
  test("gravity picks the crop area", async () => {
    const north = (await post("/crop?width=300&height=60&gravity=north", upright)).bytes;
    const south = (await post("/crop?width=300&height=60&gravity=south", upright)).bytes;
    expect(isNear(await pixelAt(north, 5, 5), R)).toBe(true);
    expect(isNear(await pixelAt(south, 5, 50), B)).toBe(true);
  });
  test("blur by sigma or minampl alters pixels but not the size", async () => {
    const plain = await sharp((await post("/convert?type=png", upright)).bytes)
      .raw()
      .toBuffer();
    const blurred = await meta("/blur?sigma=8&type=png", upright);
    expect(blurred.meta.width).toBe(300);
    expect((await sharp(blurred.res.bytes).raw().toBuffer()).equals(plain)).toBe(false);
    expect((await post("/blur?minampl=0.2", upright)).status).toBe(200);
  });
  test("watermark draws text on the image", async () => {
    const plain = await sharp((await post("/convert?type=png", fx.large.buffer)).bytes)
      .raw()
      .toBuffer();
    const marked = await meta(
      "/watermark?text=aciimg&type=png&opacity=1&color=255,0,0&font=sans%20bold%2020",
      fx.large.buffer,
    );
    expect([marked.meta.width, marked.meta.height]).toEqual([1920, 1080]);
    expect((await sharp(marked.res.bytes).raw().toBuffer()).equals(plain)).toBe(false);
  });
  test("zoom with an area extracts from the zoomed image", async () => {
    const z = (await meta("/zoom?factor=1&top=10&left=10&areawidth=50&areaheight=40&nocrop=true", fx.imaginary.buffer))
      .meta;
    expect([z.width, z.height]).toEqual([50, 40]);
  });
});

describe("pipeline", () => {
  const run = (ops: unknown, extra = "") =>
    post(
      `/pipeline?operations=${encodeURIComponent(typeof ops === "string" ? ops : JSON.stringify(ops))}${extra}`,
      fx.imaginary.buffer,
    );
  const err = (message: string) => ({ status: 400, message });

  test("missing, empty and oversized pipelines are refused with imaginary's messages", async () => {
    expect((await post("/pipeline", fx.imaginary.buffer)).json()).toEqual(
      err("Error while processing the image: Missing or invalid pipeline operations JSON"),
    );
    expect((await run([])).json()).toEqual(
      err("Error while processing the image: Missing or invalid pipeline operations JSON"),
    );
    const eleven = Array.from({ length: 11 }, () => ({ operation: "flip", params: {} }));
    expect((await run(eleven)).json()).toEqual(
      err("Error while processing the image: Maximum allowed pipeline operations exceeded"),
    );
    const ten = Array.from({ length: 10 }, () => ({ operation: "flip", params: {} }));
    expect((await run(ten)).status).toBe(200);
  });

  test("names are case-sensitive: info and watermarkimage are unknown; watermarkImage is not served", async () => {
    expect((await run([{ operation: "info", params: {} }])).json()).toEqual(
      err("Error while processing the image: Unsupported operation name: info"),
    );
    expect((await run([{ operation: "watermarkimage", params: {} }])).json()).toEqual(
      err("Error while processing the image: Unsupported operation name: watermarkimage"),
    );
    expect(
      (await run([{ operation: "watermarkImage", params: { image: "http://127.0.0.1:1/x.png" } }])).json(),
    ).toEqual({ status: 501, message: "Not implemented endpoint" });
  });

  test("unknown fields and bad JSON are parameter errors", async () => {
    const extra = '[{"operation":"crop","extra":1}]';
    expect((await run(extra)).json()).toEqual(
      err(
        `Error while processing parameters, error while processing ` +
          `parameter "operations" with value ${JSON.stringify(extra)}, error: json: unknown field "extra"`,
      ),
    );
    const cut = '[{"operation":"crop"';
    expect((await run(cut)).json()).toEqual(
      err(
        `Error while processing parameters, error ` +
          `while processing parameter "operations" with value ${JSON.stringify(cut)}, error: unexpected EOF`,
      ),
    );
    expect((await post(`/resize?width=10&operations=${encodeURIComponent(cut)}`, fx.imaginary.buffer)).status).toBe(
      400,
    );
  });

  test("param values may be strings; wrong JSON types use Go's broken %q text", async () => {
    const ok = await run([{ operation: "resize", params: { width: "200" } }]);
    expect(ok.headers["image-width"]).toBe("200");
    expect((await run([{ operation: "resize", params: { width: true } }])).json()).toEqual(
      err(
        "Error while processing the image: " +
          'error while processing parameter "width" with value %!q(bool=true), error: unsupported value',
      ),
    );
  });

  test("negative numbers are not abs'ed: width -100 leaves the image unchanged", async () => {
    const res = await run([{ operation: "resize", params: { width: -100 } }]);
    expect([res.headers["image-width"], res.headers["image-height"]]).toEqual(["550", "740"]);
  });

  test("outer params are validated but ignored", async () => {
    const res = await run([{ operation: "crop", params: { width: 100, height: 100 } }], "&type=png");
    expect(res.headers["content-type"]).toBe("image/jpeg");
    expect((await run([{ operation: "crop", params: { width: 100 } }], "&type=bogus")).json()).toEqual(
      err("Unsupported output image format"),
    );
  });

  test("a failing step with ignore_failure is an error, not imaginary's empty 200", async () => {
    const res = await run([
      { operation: "crop", params: { width: 100, height: 100 } },
      { operation: "rotate", ignore_failure: true, params: {} },
    ]);
    expect(res.status).toBe(400);
    expect(res.json()).toEqual(err("Error while processing the image: Missing required param: rotate"));
  });

  test("a multipart `operations` field is ignored: operations come from the query", async () => {
    const form = multipart([
      { name: "file", data: fx.imaginary.buffer, filename: "a.jpg" },
      { name: "operations", data: '[{"operation":"flip","params":{}}]' },
    ]);
    expect((await post("/pipeline", form.body, { "Content-Type": form.contentType })).json()).toEqual(
      err("Error while processing the image: Missing or invalid pipeline operations JSON"),
    );
  });
});
