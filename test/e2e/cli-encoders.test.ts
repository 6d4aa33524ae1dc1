/**
 * AVIF output and the encoder flags through the spawned CLI. On the local provider (the built-in
 * backend) the bytes written are what the flags ask for, and an animation written as AVIF is
 * flattened with a warning; on aci, imaginary cannot write AVIF nor lossless WebP, so `process`
 * refuses them before any work: exit 2, no state, no backend, no ARM call (there is no Azure
 * here to call), nothing written.
 */
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { animatedGif } from "../helpers/damaged.js";
import { makeJpeg } from "../helpers/images.js";
import { createWorkspace, jsonLines, type Workspace } from "./cli-harness.js";

let ws: Workspace;

beforeAll(async () => {
  ws = await createWorkspace("aciimg-e2e-encoders-");
  await writeFile(join(ws.dir, "photo.jpg"), await makeJpeg(320, 240));
});
afterAll(async () => {
  await ws.cleanup();
});

/** The JPEG's first frame marker after its header segments: 0xc0 baseline, 0xc2 progressive. */
function jpegFrame(jpeg: Buffer): number | undefined {
  for (let at = 2; at + 4 <= jpeg.length; at += 2 + jpeg.readUInt16BE(at + 2)) {
    const marker = jpeg[at + 1] ?? 0;
    if (marker === 0xc0 || marker === 0xc2) return marker;
  }
  return undefined;
}

describe("local provider", () => {
  it("--type avif and -o x.avif write AVIF; --progressive a progressive JPEG; --lossless a VP8L WebP", async () => {
    const runs = [
      ["process", "photo.jpg", "--resize", "160x120", "--type", "avif", "--effort", "2", "-o", "out/", "--json"],
      ["process", "photo.jpg", "--resize", "160x120", "-o", "named.avif"],
      ["process", "photo.jpg", "--resize", "160x120", "--type", "jpeg", "--progressive", "-o", "progressive.jpg"],
      ["process", "photo.jpg", "--resize", "160x120", "--type", "jpeg", "-o", "baseline.jpg"],
      ["process", "photo.jpg", "--type", "webp", "--lossless", "--effort", "9", "-o", "lossless.webp"],
    ];
    for (const args of runs) {
      const result = await ws.run(args);
      expect(result.code, `${args.join(" ")}\n${result.stderr}`).toBe(0);
      if (args.includes("--json")) {
        expect(jsonLines(result.stdout)[0]).toMatchObject({ output: "out/photo.avif", status: "ok", width: 160 });
      }
    }
    for (const avif of ["out/photo.avif", "named.avif"]) {
      const bytes = await readFile(join(ws.dir, avif));
      expect(bytes.subarray(4, 12).toString("latin1"), avif).toBe("ftypavif");
      expect(await sharp(bytes).metadata()).toMatchObject({ compression: "av1", width: 160, height: 120 });
    }
    expect(jpegFrame(await readFile(join(ws.dir, "progressive.jpg")))).toBe(0xc2);
    expect(jpegFrame(await readFile(join(ws.dir, "baseline.jpg")))).toBe(0xc0);
    const webp = await readFile(join(ws.dir, "lossless.webp"));
    expect(webp.subarray(12, 16).toString("latin1")).toBe("VP8L");
    const pixels = (image: Buffer | string) => sharp(image).removeAlpha().raw().toBuffer();
    expect((await pixels(webp)).equals(await pixels(join(ws.dir, "photo.jpg")))).toBe(true);
  }, 120_000);

  it("an animated GIF written as AVIF is its first frame, and the file's line says so", async () => {
    await writeFile(join(ws.dir, "spinner.gif"), await animatedGif(8, 120, 80));
    const result = await ws.run(["process", "spinner.gif", "--type", "avif", "-o", "anim/", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(jsonLines(result.stdout)[0]).toMatchObject({
      status: "ok",
      warning: "only the first of 8 frames was kept: AVIF is written as a still image",
    });
    expect(await sharp(join(ws.dir, "anim", "spinner.avif")).metadata()).toMatchObject({ width: 120, height: 80 });
  }, 60_000);
});

describe("aci provider (imaginary)", () => {
  const aci = { env: { ACIIMG_PROVIDER: "aci" } };
  let fresh: Workspace;
  beforeAll(async () => {
    fresh = await createWorkspace("aciimg-e2e-encoders-aci-");
    await writeFile(join(fresh.dir, "photo.jpg"), await readFile(join(ws.dir, "photo.jpg")));
  });
  afterAll(async () => {
    await fresh.cleanup();
  });

  it.each([
    ["--type avif", ["photo.jpg", "--resize", "160x120", "--type", "avif", "-o", "aci/"], "cannot write AVIF"],
    ["-o x.avif", ["photo.jpg", "--resize", "160x120", "-o", "aci.avif"], "cannot write AVIF"],
    ["--lossless to WebP", ["photo.jpg", "--type", "webp", "--lossless", "-o", "aci/"], "writes lossy WebP only"],
  ])("refuses %s before any work: exit 2, naming the alternatives", async (_name, args, why) => {
    const result = await fresh.run(["process", ...args], aci);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^aciimg: .*${why}.*the local provider \\(--provider local\\)`));
    expect(result.stdout).toBe("");
    // No state was made (so no backend, no ARM call), and nothing was written.
    expect(existsSync(fresh.statePath)).toBe(false);
    expect(existsSync(join(fresh.dir, "aci"))).toBe(false);
    expect(existsSync(join(fresh.dir, "aci.avif"))).toBe(false);
  });

  it("refuses AVIF from stdin too, before reading it", async () => {
    const result = await fresh.run(["process", "-", "--type", "avif", "-o", "stdin.avif"], {
      ...aci,
      input: await readFile(join(fresh.dir, "photo.jpg")),
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("imaginary (the aci provider) cannot write AVIF");
    expect(existsSync(fresh.statePath)).toBe(false);
    expect(existsSync(join(fresh.dir, "stdin.avif"))).toBe(false);
  });
});
