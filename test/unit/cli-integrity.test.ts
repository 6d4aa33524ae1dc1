import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { truncationOf } from "../../src/cli/integrity.js";

let dir: string;
let jpeg: Buffer;
let png: Buffer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "aciimg-integrity-"));
  const image = sharp({ create: { width: 320, height: 240, channels: 3, background: "#000", noise: { type: "gaussian", mean: 128, sigma: 30 } } });
  jpeg = await image.clone().jpeg().toBuffer();
  png = await image.clone().png().toBuffer();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function check(name: string, bytes: Buffer): Promise<string | undefined> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return truncationOf(path, bytes.length);
}

describe("truncationOf", () => {
  it("passes complete JPEGs and PNGs", async () => {
    expect(await check("ok.jpg", jpeg)).toBeUndefined();
    expect(await check("ok.png", png)).toBeUndefined();
  });

  it("passes a JPEG with a trailer after its end (motion photos append video)", async () => {
    expect(await check("trailer.jpg", Buffer.concat([jpeg, Buffer.alloc(200_000, 0x5a)]))).toBeUndefined();
  });

  it("finds a JPEG cut short", async () => {
    expect(await check("cut.jpg", jpeg.subarray(0, Math.floor(jpeg.length / 2)))).toBe("the JPEG ends before its end-of-image marker");
  });

  it("finds a PNG cut short", async () => {
    expect(await check("cut.png", png.subarray(0, Math.floor(png.length / 2)))).toBe("the PNG ends before its IEND chunk");
  });

  it("leaves other content to the backend", async () => {
    expect(await check("notes.jpg", Buffer.from("hello, not an image"))).toBeUndefined();
  });
});
