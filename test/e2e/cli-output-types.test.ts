/**
 * Which format `aciimg process` writes, and under which name, end to end: the spawned CLI, one
 * warm local backend shared by the file, images made by sharp and checked by their bytes.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, jsonLines, outputsIn, writeJpeg, type Workspace } from "./cli-harness.js";

let ws: Workspace;
const svg = (width: number, height: number): string =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
  `<rect width="${width}" height="${height}" fill="#3a7"/>` +
  `<circle cx="${width / 2}" cy="${height / 2}" r="${height / 3}" fill="#fc0"/></svg>`;
const metadataOf = async (...path: string[]) => sharp(await readFile(join(ws.dir, ...path))).metadata();
const formatOf = async (...path: string[]) => (await metadataOf(...path)).format;
const inputBytes = (name: string): Promise<Buffer> => readFile(join(ws.dir, "in", name));

beforeAll(async () => {
  ws = await createWorkspace("aciimg-e2e-types-");
  const at = (name: string): string => join(ws.dir, "in", name);
  await mkdir(join(ws.dir, "in"));
  await writeJpeg(at("photo.jpg"), 300, 200);
  // A PNG whose name says JPEG (a renamed download, an export with the wrong extension).
  const png = sharp({ create: { width: 200, height: 100, channels: 4, background: "#08f8" } }).png();
  await png.toFile(at("mislabelled.jpg"));
  await writeFile(at("vector.svg"), svg(1200, 600));
  await sharp(Buffer.from(svg(120, 80)))
    .gif()
    .toFile(at("anim.gif"));
  await sharp(Buffer.from(svg(160, 120)))
    .flatten({ background: "#fff" })
    .avif()
    .toFile(at("photo2.avif"));
  const up = await ws.run(["up", "--json"]);
  expect(up.code, up.stderr).toBe(0);
});
afterAll(async () => {
  await ws.cleanup();
});

describe("an output's name and its bytes agree", () => {
  it("a folder output keeps the input's format, from its bytes, and is named for it: PNG a.jpg is a.png", async () => {
    const args = ["process", "in/mislabelled.jpg", "--resize", "100x50", "-o", "named/", "--json"];
    const result = await ws.run(args);
    expect(result.code, result.stderr).toBe(0);
    expect(jsonLines(result.stdout)[0]).toMatchObject({ output: "named/mislabelled.png", status: "ok" });
    expect(await formatOf("named", "mislabelled.png")).toBe("png");
    expect(await outputsIn(join(ws.dir, "named"))).toEqual(["mislabelled.png"]);
    // --skip-existing looks for the name the rule gives, so a second run skips it.
    const again = await ws.run([...args, "--skip-existing"]);
    expect(again.code, again.stderr).toBe(0);
    expect(jsonLines(again.stdout)[0]).toMatchObject({ output: "named/mislabelled.png", status: "skipped" });
  });

  it("a file output is written in the format its extension names, whatever the input holds", async () => {
    const jpeg = await ws.run(["process", "in/mislabelled.jpg", "--resize", "100x50", "-o", "one/out.jpg"]);
    expect(jpeg.code, jpeg.stderr).toBe(0);
    expect(await metadataOf("one", "out.jpg")).toMatchObject({ format: "jpeg", width: 100, height: 50 });
    const webp = await ws.run(["process", "in/vector.svg", "--resize", "100x50", "-o", "one/vector.webp"]);
    expect(webp.code, webp.stderr).toBe(0);
    expect(await formatOf("one", "vector.webp")).toBe("webp");
  });

  it("stdin to stdout keeps a format the backend writes, and gives an SVG the PNG a folder output gets", async () => {
    const png = await ws.run(["process", "-", "--resize", "100x50"], { input: await inputBytes("mislabelled.jpg") });
    expect(png.code, png.stderr).toBe(0);
    expect(await sharp(png.stdoutBytes).metadata()).toMatchObject({ format: "png", width: 100, height: 50 });
    const vector = await ws.run(["process", "-", "--resize", "100x50"], { input: await inputBytes("vector.svg") });
    expect(vector.code, vector.stderr).toBe(0);
    expect(await sharp(vector.stdoutBytes).metadata()).toMatchObject({ format: "png", width: 100, height: 50 });
  });
});

describe("--type applies to every step of a pipeline", () => {
  it("an SVG and a GIF through --fit then --blur come out in the type asked for", async () => {
    const steps = ["--blur", "3", "-o", "piped/"];
    const vector = await ws.run(["process", "in/vector.svg", "--fit", "600x600", ...steps, "--type", "png"]);
    expect(vector.code, vector.stderr).toBe(0);
    expect(await metadataOf("piped", "vector.png")).toMatchObject({ format: "png", width: 600, height: 300 });
    const gif = await ws.run(["process", "in/anim.gif", "--fit", "60x60", ...steps, "--type", "webp"]);
    expect(gif.code, gif.stderr).toBe(0);
    expect(await metadataOf("piped", "anim.webp")).toMatchObject({ format: "webp", width: 60, height: 40 });
  });
});

describe("inputs in a format the backend cannot write get a default output type", () => {
  it("a folder of SVG, GIF, AVIF and JPEG without --type: PNG for SVG and GIF, JPEG for AVIF, JPEG kept", async () => {
    const result = await ws.run(["process", "in", "--fit", "80x80", "--blur", "1", "-o", "defaults/", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const files = await outputsIn(join(ws.dir, "defaults"));
    expect(files).toEqual(["anim.png", "mislabelled.png", "photo.jpg", "photo2.jpg", "vector.png"]);
    const formats = await Promise.all(files.map((name) => formatOf("defaults", name)));
    expect(formats).toEqual(["png", "png", "jpeg", "jpeg", "png"]);
  });
});

describe("--quality where it does nothing", () => {
  it("says so once per run on stderr, with or without --json, and not for JPEG", async () => {
    const warning =
      "aciimg: warning: --quality does nothing for PNG output (lossless); " +
      "it sets the quality of JPEG, WebP, AVIF and TIFF";
    const qualityLines = (stderr: string): string[] => stderr.split("\n").filter((line) => /quality/.test(line));
    const args = ["process", "in/photo.jpg", "in/vector.svg", "--resize", "60x40", "--quality", "80"];
    const plain = await ws.run([...args, "--type", "png", "-o", "q1/"]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(qualityLines(plain.stderr)).toEqual([warning]);
    const json = await ws.run([...args, "--type", "png", "-o", "q2/", "--json"]);
    expect(json.code, json.stderr).toBe(0);
    expect(json.stderr).toBe(`${warning}\n`);
    expect(jsonLines(json.stdout).at(-1)).toMatchObject({ summary: { total: 2, ok: 2 } });
    const jpeg = await ws.run(["process", "in/photo.jpg", "--resize", "60x40", "--quality", "80", "-o", "q3/"]);
    expect(jpeg.code, jpeg.stderr).toBe(0);
    expect(qualityLines(jpeg.stderr)).toEqual([]);
    // Without --type, the SVG's default PNG is an output --quality does nothing for.
    const mixed = await ws.run([...args, "-o", "q4/"]);
    expect(mixed.code, mixed.stderr).toBe(0);
    expect(qualityLines(mixed.stderr)).toEqual([warning]);
    expect(existsSync(join(ws.dir, "q4", "vector.png"))).toBe(true);
  });
});
