/**
 * Issue 22, point 5, through the spawned CLI. On aci (the ARM simulator), whose imaginary cannot
 * stop a render, `process` refuses an SVG with filters before anything is sent (no ARM request,
 * no group), naming the construct and the opt-in; `--allow-svg-filters` sends it. On the local
 * provider the backend bounds the render instead: ACIIMG_MAX_RENDER_TIME reaches the backend it
 * starts, the costly SVG fails with the backend's 422 and the rest of the batch is processed.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { simCli, type SimCli } from "../arm-sim/cli.js";
import { startArmSim, type ArmSim } from "../arm-sim/server.js";
import { costlySvg } from "../helpers/costly-svg.js";
import { jsonLines, workspacesFor } from "./cli-harness.js";

/** A small SVG with a filter: harmless, but refused by the screen like any other. */
const blurredSvg = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">' +
    '<filter id="b"><feGaussianBlur stdDeviation="2"/></filter>' +
    '<rect x="5" y="5" width="30" height="10" fill="red" filter="url(#b)"/></svg>',
);

describe("aci: SVG inputs are screened (ARM simulator)", () => {
  let sim: ArmSim;
  let dir: string;
  let cli: SimCli;
  beforeAll(async () => {
    sim = await startArmSim();
    dir = mkdtempSync(join(tmpdir(), "aciimg-e2e-svg-aci-"));
    cli = simCli(sim, dir);
    writeFileSync(join(dir, "costly.svg"), costlySvg());
    writeFileSync(join(dir, "blurred.svg"), blurredSvg);
  });
  afterAll(async () => {
    if (cli) await cli(["down"]).catch(() => undefined);
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("a filter SVG is refused before anything is sent: E_BAD_INPUT naming <filter> and the opt-in", async () => {
    const run = await cli(["process", join(dir, "costly.svg"), "--type", "png", "-o", join(dir, "out")]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/costly\.svg is an SVG with <filter>, refused: .*--allow-svg-filters/);
    expect(sim.requests).toEqual([]);
    expect(sim.groups()).toEqual([]);
  });

  test("--allow-svg-filters sends it", async () => {
    const args = ["process", join(dir, "blurred.svg"), "--type", "png", "-o", join(dir, "out"), "--allow-svg-filters"];
    const run = await cli(args, {}, 120_000);
    expect(run.stderr).not.toContain("refused");
    expect(run.code).toBe(0);
    const written = await sharp(join(dir, "out", "blurred.png")).metadata();
    expect(written).toMatchObject({ format: "png", width: 40, height: 20 });
  }, 150_000);
});

describe("local: the backend bounds the render", () => {
  const workspace = workspacesFor("aciimg-e2e-svg-local-");

  test("ACIIMG_MAX_RENDER_TIME=1s reaches the local backend: the costly SVG fails (422), the next works", async () => {
    const ws = await workspace();
    writeFileSync(join(ws.dir, "costly.svg"), costlySvg());
    writeFileSync(join(ws.dir, "blurred.svg"), blurredSvg);
    const inputs = [join(ws.dir, "costly.svg"), join(ws.dir, "blurred.svg")];
    const args = ["process", ...inputs, "--type", "png", "-o", join(ws.dir, "out"), "--json"];
    const run = await ws.run(args, { env: { ACIIMG_MAX_RENDER_TIME: "1s" }, timeoutMs: 60_000 });
    expect(run.code).toBe(1);
    const files = jsonLines(run.stdout).filter((line) => "input" in line);
    expect(files.find((f) => String(f.input).endsWith("costly.svg"))).toMatchObject({
      status: "failed",
      code: "E_IMAGE",
      error: expect.stringContaining("Image processing took too long (limit 1 s"),
    });
    expect(files.find((f) => String(f.input).endsWith("blurred.svg"))).toMatchObject({ status: "ok" });
    expect(existsSync(join(ws.dir, "out", "costly.png"))).toBe(false);
  }, 90_000);
});
