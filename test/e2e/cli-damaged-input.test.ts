/**
 * Damaged images through the spawned CLI and the local backend: a JPEG with 5 KB overwritten in
 * the middle, and one cut short with an end marker appended (which passes the CLI's own
 * truncation check), fail as E_BAD_INPUT naming the decoder's complaint and leave no output;
 * `--fail-on none` processes them as they decode. Images made by sharp, damaged by the test.
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cutWithEndMarker, noisyJpeg, overwritten } from "../helpers/damaged.js";
import { createWorkspace, jsonLines, type Workspace, outputsIn } from "./cli-harness.js";

let ws: Workspace;
let photo: Buffer;

beforeAll(async () => {
  ws = await createWorkspace("aciimg-e2e-damaged-");
  photo = await noisyJpeg(1000, 800);
  await writeFile(join(ws.dir, "overwritten.jpg"), overwritten(photo));
  await writeFile(join(ws.dir, "cut.jpg"), cutWithEndMarker(photo));
  const up = await ws.run(["up", "--json"]);
  expect(up.code, up.stderr).toBe(0);
});
afterAll(async () => {
  await ws.cleanup();
});

describe("a damaged input", () => {
  for (const name of ["overwritten.jpg", "cut.jpg"]) {
    it(`${name} fails as E_BAD_INPUT (exit 1) naming the decoder's complaint, and nothing is written`, async () => {
      const out = `out-${name}`;
      const result = await ws.run(["process", name, "--resize", "300x200", "-o", `${out}/`, "--json"]);
      expect(result.code, result.stderr).toBe(1);
      const [line, summary] = jsonLines(result.stdout);
      expect(line).toMatchObject({ input: name, status: "failed", code: "E_BAD_INPUT" });
      const shown = name.replace(".", "\\.");
      const complaint = "VipsJpeg: Corrupt JPEG data: premature end of data segment";
      expect(String(line?.error)).toMatch(new RegExp(`^${shown} is damaged: ${complaint}`));
      expect(String(line?.error)).toContain("--fail-on none");
      expect(summary).toMatchObject({ summary: { total: 1, failed: 1, ok: 0 } });
      expect(existsSync(join(ws.dir, out))).toBe(false);

      const plain = await ws.run(["process", name, "--resize", "300x200", "-o", `${out}/`]);
      expect(plain.code).toBe(1);
      expect(plain.stderr).toMatch(new RegExp(`^failed ${shown}: ${shown} is damaged: VipsJpeg: `, "m"));
      // imaginary's route is an internal detail, and libvips' text is said once.
      expect(plain.stderr).not.toMatch(/\/(resize|pipeline):/);
    });

    it(`${name} is processed as it decodes with --fail-on none, and with ACIIMG_FAIL_ON=none`, async () => {
      const flag = await ws.run(["process", name, "--resize", "300x200", "-o", `lenient-${name}`, "--fail-on", "none"]);
      expect(flag.code, flag.stderr).toBe(0);
      const written = await sharp(join(ws.dir, `lenient-${name}`)).metadata();
      expect(written).toMatchObject({ width: 300, height: 200, format: "jpeg" });
      const byEnv = { env: { ACIIMG_FAIL_ON: "none" } };
      const env = await ws.run(["process", name, "--resize", "300x200", "-o", `env-${name}`], byEnv);
      expect(env.code, env.stderr).toBe(0);
      expect(existsSync(join(ws.dir, `env-${name}`))).toBe(true);
    });
  }

  it("in a batch fails alone: the good images are written and the summary counts it failed", async () => {
    const dir = join(ws.dir, "batch");
    await mkdir(dir);
    await writeFile(join(dir, "a.jpg"), photo);
    await writeFile(join(dir, "b.jpg"), overwritten(photo));
    await writeFile(join(dir, "c.jpg"), photo);
    await writeFile(join(dir, "d.jpg"), cutWithEndMarker(photo));
    const result = await ws.run(["process", "batch", "--fit", "200x200", "-o", "batch-out", "--json"]);
    expect(result.code).toBe(1);
    type Summary = { total: number; ok: number; failed: number; failures: Array<{ input: string; code: string }> };
    const summary = jsonLines(result.stdout).at(-1)?.summary as Summary;
    expect(summary).toMatchObject({ total: 4, ok: 2, failed: 2 });
    const failed = summary.failures.map((f) => [f.input, f.code]).sort();
    expect(failed).toEqual([
      ["batch/b.jpg", "E_BAD_INPUT"],
      ["batch/d.jpg", "E_BAD_INPUT"],
    ]);
    expect(await outputsIn(join(ws.dir, "batch-out"))).toEqual(["a.jpg", "c.jpg"]);
  });

  it("--fail-on takes sharp's levels only", async () => {
    const result = await ws.run(["process", "cut.jpg", "--resize", "300x200", "-o", "never/", "--fail-on", "strict"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('aciimg: --fail-on: expected none, truncated, error or warning, got "strict"\n');
  });
});
