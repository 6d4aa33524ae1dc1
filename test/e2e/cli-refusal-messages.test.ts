/**
 * What `process` says when the backend refuses an image: the input and the reason in the person's
 * words, the limit and how to raise it, never imaginary's route ("/pipeline: …"). The spawned CLI
 * and the local backend; images made by sharp.
 */
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, jsonLines, writeJpeg, type Workspace } from "./cli-harness.js";

let ws: Workspace;

beforeAll(async () => {
  ws = await createWorkspace("aciimg-e2e-refusals-");
  const huge = sharp({ create: { width: 6000, height: 3100, channels: 3, background: "#888" } });
  await huge.jpeg().toFile(join(ws.dir, "huge.jpg"));
  await writeJpeg(join(ws.dir, "photo.jpg"), 300, 200);
  const up = await ws.run(["up", "--json"]);
  expect(up.code, up.stderr).toBe(0);
});
afterAll(async () => {
  await ws.cleanup();
});

describe("a refused image", () => {
  it("over the resolution limit names the limit and the settings that raise it, for one step or several", async () => {
    for (const flags of [
      ["--resize", "60x40"],
      ["--resize", "60x40", "--blur", "1"],
    ]) {
      const result = await ws.run(["process", "huge.jpg", ...flags, "-o", "out/", "--json"]);
      expect(result.code).toBe(1);
      const [line] = jsonLines(result.stdout);
      expect(line).toMatchObject({ input: "huge.jpg", status: "failed", code: "E_IMAGE" });
      expect(line?.error).toBe(
        'huge.jpg is over the resolution limit of 18 MP of the running local backend "default" ' +
          "(Image resolution is too big): " +
          'raise ACIIMG_MAX_RESOLUTION or config "maxResolution" above its megapixels, ' +
          "then run `aciimg down` and retry " +
          "(a backend keeps its limit while it runs)",
      );
    }
  });

  it("for another reason says imaginary's message without the route it came from", async () => {
    const outside = ["--op", "extract", "--param", "areawidth=500", "--param", "areaheight=500"];
    const result = await ws.run(["process", "photo.jpg", ...outside, "--blur", "1", "-o", "x/"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^failed photo\.jpg: Error while processing the image: extract_area: bad extract area\n/,
    );
    expect(result.stderr).not.toMatch(/\/(pipeline|extract):/);
  });
});
