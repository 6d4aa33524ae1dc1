/**
 * What `aciimg process` does by default with a photo's private metadata and with transparency,
 * and `--keep-metadata` / `--background`: the spawned CLI on its local backend, images by sharp.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isNear, pixelAt, quadrants } from "../helpers/images.js";
import { expectCameraKept, makeCameraJpeg, makeHalfTransparent, rgbaAt } from "../helpers/metadata.js";
import { createWorkspace, type Workspace } from "./cli-harness.js";

let ws: Workspace;

beforeAll(async () => {
  ws = await createWorkspace("aciimg-e2e-metadata-");
  await writeFile(join(ws.dir, "camera.jpg"), await makeCameraJpeg());
  await writeFile(join(ws.dir, "logo.png"), await makeHalfTransparent("png"));
  const up = await ws.run(["up", "--json"]);
  expect(up.code, up.stderr).toBe(0);
});
afterAll(async () => {
  await ws.cleanup();
});

async function processed(args: string[], output: string): Promise<Buffer> {
  const result = await ws.run(["process", ...args, "-o", output]);
  expect(result.code, result.stderr).toBe(0);
  return readFile(join(ws.dir, output));
}

describe("metadata", () => {
  it(
    "is stripped by default: no camera, " +
      "GPS or XMP; colours in sRGB; the photo upright with no tag to turn it again",
    async () => {
      const out = await processed(["camera.jpg", "--width", "150"], "web/camera.jpg");
      const meta = await sharp(out).metadata();
      expect({ exif: meta.exif, xmp: meta.xmp, icc: meta.icc, orientation: meta.orientation }).toEqual({
        exif: undefined,
        xmp: undefined,
        icc: undefined,
        orientation: undefined,
      });
      // Stored 200x300 with orientation 6: upright it is landscape, red at the top left.
      expect([meta.width, meta.height]).toEqual([150, 100]);
      expect(isNear(await pixelAt(out, 5, 5), quadrants.topLeft)).toBe(true);
    },
  );

  it("is kept with --keep-metadata, the orientation reset to 1 after rotating", async () => {
    const out = await processed(["camera.jpg", "--width", "150", "--keep-metadata"], "kept/camera.jpg");
    const meta = await sharp(out).metadata();
    expectCameraKept(meta, "Pocket 7");
  });

  it("is stripped by every step of a pipeline", async () => {
    const meta = await sharp(await processed(["camera.jpg", "--width", "150", "--blur", "1"], "piped.jpg")).metadata();
    expect([meta.exif, meta.xmp, meta.width]).toEqual([undefined, undefined, 150]);
  });
});

describe("transparency", () => {
  it("becomes white in a JPEG by default, the colour of --background when given", async () => {
    const white = await processed(["logo.png"], "logo.jpg");
    expect(isNear(await pixelAt(white, 5, 20), [255, 255, 255], 8)).toBe(true);
    expect(isNear(await pixelAt(white, 35, 20), [0, 0, 255])).toBe(true);
    const red = await processed(["logo.png", "--background", "#ff0000", "--resize", "40x40"], "red.jpg");
    expect(isNear(await pixelAt(red, 5, 20), [255, 0, 0], 8)).toBe(true);
  });

  it("stays in an output that can hold it, unless --background is given", async () => {
    expect((await rgbaAt(await processed(["logo.png", "--width", "40"], "still.png"), 5, 20))[3]).toBe(0);
    const flat = await processed(["logo.png", "--width", "40", "--background", "0,128,0"], "flat.webp");
    const [r = 0, g = 0, b = 0, alpha] = await rgbaAt(flat, 5, 20);
    expect([isNear([r, g, b], [0, 128, 0], 8), alpha]).toEqual([true, 255]);
  });

  it("refuses a colour it cannot read, before any work, naming the accepted forms", async () => {
    const result = await ws.run(["process", "logo.png", "--background", "rgba(0,0,0,0)", "-o", "bad.jpg"]);
    expect({ code: result.code, stderr: result.stderr }).toEqual({
      code: 2,
      stderr:
        'aciimg: --background: expected a colour such as white, #fff, #ffffff or 255,255,255, got "rgba(0,0,0,0)"\n',
    });
  });
});
