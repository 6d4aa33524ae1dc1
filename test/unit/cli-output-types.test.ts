import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outputTypeOf, outputTypeOfFile } from "../../src/cli/batch/output-types.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "aciimg-output-types-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** An ISO BMFF file's start with `brand` (HEIC from a phone: "heic"; AVIF: "avif"). */
const bmff = (brand: string): Buffer =>
  Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from(`ftyp${brand}`), Buffer.alloc(12)]);

describe("the output type of an input when none is asked for", () => {
  it("keeps a format the backend writes, read from the bytes", async () => {
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: "#f00" } })
      .png()
      .toBuffer();
    const webp = await sharp(png).webp().toBuffer();
    expect(outputTypeOf(undefined, png)).toBe("png");
    expect(outputTypeOf(undefined, webp)).toBe("webp");
  });

  it("gives graphics PNG and photos JPEG where imaginary cannot write the input's format", async () => {
    const gif = await sharp({ create: { width: 4, height: 4, channels: 3, background: "#f00" } })
      .gif()
      .toBuffer();
    expect(outputTypeOf(undefined, gif)).toBe("png");
    expect(outputTypeOf(undefined, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBe("png");
    expect(outputTypeOf(undefined, Buffer.from("%PDF-1.7\n"))).toBe("png");
    expect(outputTypeOf(undefined, bmff("heic"))).toBe("jpeg");
    expect(outputTypeOf(undefined, bmff("avif"))).toBe("jpeg");
  });

  it("the type asked for wins; bytes that are no image known get none (the backend says why)", () => {
    expect(outputTypeOf("webp", bmff("heic"))).toBe("webp");
    expect(outputTypeOf(undefined, Buffer.from("hello"))).toBeUndefined();
  });

  it("reads a file's start without following a link or waiting on a FIFO; an unreadable one gets none", async () => {
    const heic = join(dir, "phone.jpg");
    await writeFile(heic, bmff("heic"));
    expect(outputTypeOfFile(undefined, heic)).toBe("jpeg");
    expect(outputTypeOfFile(undefined, join(dir, "missing.png"))).toBeUndefined();
    const fifo = join(dir, "fifo.png");
    execFileSync("mkfifo", [fifo]);
    expect(outputTypeOfFile(undefined, fifo)).toBeUndefined();
  });
});
