/**
 * Animated inputs through the spawned CLI and the local backend: to WebP the frames are kept; to a
 * format that cannot animate the first frame is written and the file's line says so (plain and
 * --json). An animated GIF made by sharp.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { animatedGif } from "../helpers/damaged.js";
import { createWorkspace, jsonLines, type Workspace } from "./cli-harness.js";

let ws: Workspace;

beforeAll(async () => {
  ws = await createWorkspace("aciimg-e2e-animation-");
  await writeFile(join(ws.dir, "spinner.gif"), await animatedGif(8, 120, 80));
  const up = await ws.run(["up", "--json"]);
  expect(up.code, up.stderr).toBe(0);
});
afterAll(async () => {
  await ws.cleanup();
});

describe("an animated GIF", () => {
  it("to WebP keeps its frames, each resized", async () => {
    const result = await ws.run([
      "process",
      "spinner.gif",
      "--resize",
      "60x40",
      "--type",
      "webp",
      "-o",
      "out/",
      "--json",
    ]);
    expect(result.code, result.stderr).toBe(0);
    const [line] = jsonLines(result.stdout);
    expect(line).toMatchObject({ input: "spinner.gif", output: "out/spinner.webp", status: "ok", width: 60 });
    expect(line).not.toHaveProperty("warning");
    const written = await sharp(join(ws.dir, "out", "spinner.webp")).metadata();
    expect(written).toMatchObject({ format: "webp", pages: 8, width: 60, height: 40 });
  });

  it("to PNG is written as its first frame, and the file's line says the animation was flattened", async () => {
    const json = await ws.run([
      "process",
      "spinner.gif",
      "--resize",
      "60x40",
      "--type",
      "png",
      "-o",
      "flat/",
      "--json",
    ]);
    expect(json.code, json.stderr).toBe(0);
    const [line] = jsonLines(json.stdout);
    expect(line).toMatchObject({ status: "ok", warning: "only the first of 8 frames was kept: PNG cannot animate" });
    const written = await sharp(join(ws.dir, "flat", "spinner.png")).metadata();
    expect(written).toMatchObject({ format: "png", width: 60, height: 40 });

    const plain = await ws.run(["process", "spinner.gif", "--resize", "60x40", "--type", "png", "-o", "flat2/"]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toContain("warning spinner.gif: only the first of 8 frames was kept: PNG cannot animate\n");
    // Its own header, said once: not also the warning for a backend that says nothing (imaginary).
    expect(plain.stderr.split("only the first")).toHaveLength(2);
    expect(plain.stderr).not.toContain("imaginary does not keep animations");
  });
});
