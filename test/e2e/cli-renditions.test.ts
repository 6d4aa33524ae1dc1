/**
 * Renditions, the manifest and incremental runs (docs/cli.md "Renditions"), through the spawned
 * CLI on the local provider: several outputs per input, named by the template; sizes past the
 * source made once at its size; the manifest describing the files on disk; a re-run that redoes
 * only what changed, by content, and starts no backend when nothing did.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chown, mkdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { animatedGif } from "../helpers/damaged.js";
import { NOBODY, isRoot } from "../helpers/users.js";
import { jsonLines, outputsIn, recordFile, workspacesFor, writeJpeg, type Workspace } from "./cli-harness.js";

const workspace = workspacesFor("aciimg-e2e-renditions-");

type Line = { input: string; output: string | null; status: string; width?: number; height?: number };
type Summary = Record<string, number>;

const sha = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

/** Runs `process` with --json; the per-output lines and the summary. */
async function processJson(ws: Workspace, args: string[], expected = 0) {
  const result = await ws.run(["process", ...args, "--json"]);
  expect(result.code, result.stderr).toBe(expected);
  const lines = jsonLines(result.stdout);
  return {
    lines: lines.filter((l) => !("summary" in l)) as Line[],
    summary: lines.at(-1)?.summary as Summary,
    stderr: result.stderr,
  };
}

/** The outputs of `lines` with `status`, as "output" names, sorted. */
const outputsWith = (lines: readonly Line[], status: string) =>
  lines
    .filter((l) => l.status === status)
    .map((l) => l.output)
    .sort();

/** Whether the workspace's state records a running backend (none: nothing was started). */
async function hasBackend(ws: Workspace): Promise<boolean> {
  if (!existsSync(ws.statePath)) return false;
  return Object.keys((await ws.state()).backends ?? {}).length > 0;
}

/** A photo at imaginary's large.jpg size (1920×1080) and a small one (500×281), in `folder`. */
async function photos(ws: Workspace, folder = "photos"): Promise<void> {
  await mkdir(join(ws.dir, folder));
  await writeJpeg(join(ws.dir, folder, "large.jpg"), 1920, 1080);
  await writeJpeg(join(ws.dir, folder, "small.jpg"), 500, 281);
}

const renditionArgs = ["photos", "--width", "320,640,1280", "--type", "webp,jpeg", "-o", "web/"];

describe("renditions", () => {
  it("each width × type is an output, {name}-{width}w.{ext}; past the source's width, one at its width", async () => {
    const ws = await workspace();
    await photos(ws);
    const { lines, summary } = await processJson(ws, renditionArgs);
    const expected = [
      ...["320", "640", "1280"].flatMap((w) => [`large-${w}w.jpg`, `large-${w}w.webp`]),
      // 500 px wide: 320, then 640 and 1280 both give one 500 px output.
      ...["320", "500"].flatMap((w) => [`small-${w}w.jpg`, `small-${w}w.webp`]),
    ].sort();
    expect(await outputsIn(join(ws.dir, "web"))).toEqual(expected);
    expect(summary).toMatchObject({ total: 10, inputs: 2, ok: 10, failed: 0 });
    for (const name of expected) {
      const width = Number(/-(\d+)w\./.exec(name)?.[1]);
      const meta = await sharp(join(ws.dir, "web", name)).metadata();
      expect(meta.width, name).toBe(width);
      expect(meta.format, name).toBe(name.endsWith(".webp") ? "webp" : "jpeg");
      const line = lines.find((l) => l.output === `web/${name}`);
      expect(line, name).toMatchObject({ status: "ok", width });
    }
  });

  it("--upscale enlarges to each size past the source's, in proportion; it needs the size first", async () => {
    const ws = await workspace();
    await photos(ws);
    const { summary } = await processJson(ws, [...renditionArgs, "--upscale"]);
    expect(summary).toMatchObject({ total: 12, inputs: 2, ok: 12, failed: 0 });
    // small.jpg is 500x281: 640 and 1280 are enlarged to, keeping its proportions.
    for (const [width, height] of [
      [320, 180],
      [640, 360],
      [1280, 719],
    ]) {
      for (const ext of ["jpg", "webp"]) {
        const meta = await sharp(join(ws.dir, "web", `small-${width}w.${ext}`)).metadata();
        expect([meta.width, meta.height], `small-${width}w.${ext}`).toEqual([width, height]);
      }
    }
    const again = await processJson(ws, [...renditionArgs, "--upscale"]);
    expect(again.summary).toMatchObject({ total: 12, upToDate: 12 });
    const cropFirst = ["photos", "--crop", "300x200", "--width", "320,640", "-o", "out/", "--upscale"];
    const refused = await processJson(ws, cropFirst, 2);
    expect(refused.stderr).toContain("--upscale: needs --width or --height as the first operation");
  });

  it("--filename sets the names; a template that cannot tell outputs apart is refused before any work", async () => {
    const ws = await workspace();
    await photos(ws);
    const named = await processJson(ws, [...renditionArgs, "--filename", "{width}/{name}.{ext}"]);
    expect(named.summary).toMatchObject({ total: 10, ok: 10 });
    expect(await outputsIn(join(ws.dir, "web", "320"))).toEqual(["large.jpg", "large.webp", "small.jpg", "small.webp"]);
    const refused = await ws.run(["process", ...renditionArgs.slice(0, -1), "other/", "--filename", "{name}.{ext}"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("{width}");
    expect(existsSync(join(ws.dir, "other"))).toBe(false);
  });
});

describe("the manifest", () => {
  it("lists each input (path, hash, size) with its outputs as they are on disk", async () => {
    const ws = await workspace();
    await photos(ws);
    await processJson(ws, [...renditionArgs, "--manifest", "web/images.json"]);
    const manifest = JSON.parse(await readFile(join(ws.dir, "web", "images.json"), "utf8"));
    expect(manifest).toMatchObject({ aciimg: "manifest", version: 1, outputRoot: "." });
    expect(manifest.inputs.map((i: { path: string }) => i.path)).toEqual(["large.jpg", "small.jpg"]);
    const large = manifest.inputs[0];
    expect(large).toMatchObject({ width: 1920, height: 1080, format: "jpeg" });
    expect(large.hash).toBe(await sha(join(ws.dir, "photos", "large.jpg")));
    expect(large.bytes).toBe((await stat(join(ws.dir, "photos", "large.jpg"))).size);
    expect(manifest.inputs[1].outputs.map((o: { width: number }) => o.width)).toEqual([320, 320, 500, 500]);
    for (const input of manifest.inputs) {
      for (const output of input.outputs) {
        const path = join(ws.dir, "web", output.path);
        const meta = await sharp(path).metadata();
        expect(output).toEqual({
          path: output.path,
          width: meta.width,
          height: meta.height,
          format: meta.format,
          bytes: (await stat(path)).size,
          hash: await sha(path),
        });
      }
    }
  });
});

describe("the manifest's own name", () => {
  it("is never an input: refused before any work, the input untouched", async () => {
    const ws = await workspace();
    await photos(ws);
    const input = join(ws.dir, "photos", "small.jpg");
    const before = await sha(input);
    const run = await ws.run(["process", ...renditionArgs, "--manifest", "photos/../photos/small.jpg"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--manifest: photos/small.jpg is an input");
    expect(await sha(input)).toBe(before);
    expect(existsSync(join(ws.dir, "web"))).toBe(false);
  });
});

describe("incremental runs", () => {
  it("a re-run with nothing changed makes nothing and starts no backend; a touch changes nothing", async () => {
    const ws = await workspace();
    await photos(ws);
    await processJson(ws, renditionArgs);
    expect((await ws.run(["down"])).code).toBe(0);
    const large = join(ws.dir, "photos", "large.jpg");
    const later = new Date(Date.now() + 60_000);
    await utimes(large, later, later);
    const again = await processJson(ws, renditionArgs);
    expect(again.summary).toMatchObject({ total: 10, ok: 0, upToDate: 10 });
    expect(await hasBackend(ws)).toBe(false);
  });

  it("an input rewritten with its old modification time redoes its outputs, and only those", async () => {
    const ws = await workspace();
    await photos(ws);
    await processJson(ws, renditionArgs);
    const small = join(ws.dir, "photos", "small.jpg");
    const before = await stat(small);
    await writeJpeg(small, 400, 300);
    await utimes(small, before.atime, before.mtime);
    expect((await stat(small)).mtime.getTime()).toBe(before.mtime.getTime());
    const again = await processJson(ws, renditionArgs);
    // 400 px: 320 and 400, in two formats; the old 500 px outputs are no longer asked for.
    expect(outputsWith(again.lines, "ok")).toEqual(
      ["small-320w.jpg", "small-320w.webp", "small-400w.jpg", "small-400w.webp"].map((n) => `web/${n}`),
    );
    expect(again.summary).toMatchObject({ ok: 4, upToDate: 6 });
  });

  it("a changed flag redoes what it changes; --force redoes all; an output changed by hand is redone", async () => {
    const ws = await workspace();
    await photos(ws);
    await processJson(ws, renditionArgs);
    const wider = await processJson(ws, ["photos", "--width", "320,640,1280", "--type", "webp", "-o", "web/"]);
    expect(wider.summary).toMatchObject({ total: 5, ok: 0, upToDate: 5 });
    const quality = await processJson(ws, [...renditionArgs, "--quality", "50"]);
    expect(quality.summary).toMatchObject({ total: 10, ok: 10, upToDate: 0 });
    const forced = await processJson(ws, [...renditionArgs, "--quality", "50", "--force"]);
    expect(forced.summary).toMatchObject({ total: 10, ok: 10, upToDate: 0 });
    await writeFile(join(ws.dir, "web", "large-320w.webp"), "edited by hand");
    const mended = await processJson(ws, [...renditionArgs, "--quality", "50"]);
    expect(outputsWith(mended.lines, "ok")).toEqual(["web/large-320w.webp"]);
    expect((await sharp(join(ws.dir, "web", "large-320w.webp")).metadata()).width).toBe(320);
  });

  it("an encoder flag redoes only the formats that read it", async () => {
    const ws = await workspace();
    await photos(ws);
    const args = ["photos", "--width", "320,640", "--type", "png,jpeg", "-o", "web/"];
    const first = await processJson(ws, [...args, "--quality", "80"]);
    const pngs = outputsWith(first.lines, "ok").filter((o) => o?.endsWith(".png"));
    const jpegs = outputsWith(first.lines, "ok").filter((o) => o?.endsWith(".jpg"));
    expect([pngs.length, jpegs.length]).toEqual([4, 4]);
    // PNG is lossless: --quality and --mozjpeg change only the JPEGs; --lossless (WebP, AVIF) neither.
    for (const flags of [
      ["--quality", "60"],
      ["--quality", "60", "--mozjpeg"],
    ]) {
      const run = await processJson(ws, [...args, ...flags]);
      expect(outputsWith(run.lines, "ok"), flags.join(" ")).toEqual(jpegs);
      expect(outputsWith(run.lines, "up-to-date"), flags.join(" ")).toEqual(pngs);
    }
    const lossless = await processJson(ws, [...args, "--quality", "60", "--mozjpeg", "--lossless"]);
    expect(lossless.summary).toMatchObject({ total: 8, ok: 0, upToDate: 8 });
  });

  it("--prune removes the outputs of inputs that are gone, and leaves one changed since", async () => {
    const ws = await workspace();
    await photos(ws);
    await writeJpeg(join(ws.dir, "photos", "third.jpg"), 640, 480);
    await processJson(ws, renditionArgs);
    await rm(join(ws.dir, "photos", "small.jpg"));
    await rm(join(ws.dir, "photos", "third.jpg"));
    await writeFile(join(ws.dir, "web", "third-320w.jpg"), "mine now");
    const planned = await processJson(ws, [...renditionArgs, "--prune", "--dry-run"]);
    const removals = planned.lines.filter((l) => l.status === "would-remove").map((l) => l.output);
    // small's 4 and third's 3 (320 in WebP, 640 in both): the one changed by hand is not removed.
    expect(removals.sort()).toEqual(
      [
        ...["small-320w.jpg", "small-320w.webp", "small-500w.jpg", "small-500w.webp"],
        ...["third-320w.webp", "third-640w.jpg", "third-640w.webp"],
      ].map((name) => `web/${name}`),
    );
    expect(planned.summary).toMatchObject({ wouldRemove: 7 });
    const pruned = await processJson(ws, [...renditionArgs, "--prune"]);
    expect(pruned.summary).toMatchObject({ total: 6, upToDate: 6 });
    expect(pruned.stderr).toContain("third-320w.jpg");
    expect(await outputsIn(join(ws.dir, "web"))).toEqual(
      [...["320", "640", "1280"].flatMap((w) => [`large-${w}w.jpg`, `large-${w}w.webp`]), "third-320w.jpg"].sort(),
    );
  });

  it("a damaged record is a warning and a full run, never a crash or a skip", async () => {
    const ws = await workspace();
    await photos(ws);
    await processJson(ws, renditionArgs);
    const record = join(ws.dir, "web", recordFile);
    const text = await readFile(record, "utf8");
    // Cut inside a line: a record cut where a line ends is a shorter record, whose missing inputs are redone.
    const cut = text.indexOf('"hash"', text.length / 2);
    for (const damaged of [text.slice(0, cut), text.replace(/"path":"large-320w\.jpg"/, '"path":"../x"')]) {
      await writeFile(record, damaged);
      const run = await processJson(ws, renditionArgs);
      expect(run.stderr).toContain("not a record aciimg can trust");
      expect(run.summary).toMatchObject({ total: 10, ok: 10, upToDate: 0 });
    }
  });

  it("a record another user owns is not trusted", async (context) => {
    if (!isRoot) context.skip("needs root: chowns the record to nobody (uid 65534)");
    const ws = await workspace();
    await photos(ws);
    await processJson(ws, renditionArgs);
    await chown(join(ws.dir, "web", recordFile), NOBODY, NOBODY);
    const run = await processJson(ws, renditionArgs);
    expect(run.stderr).toContain("belongs to another user");
    expect(run.summary).toMatchObject({ ok: 10, upToDate: 0 });
  });
});

describe("--dry-run", () => {
  it("says what would be written and what is up to date, and starts and writes nothing", async () => {
    const ws = await workspace();
    await photos(ws);
    const fresh = await processJson(ws, [...renditionArgs.slice(0, -1), "dry/", "--dry-run"]);
    expect(fresh.summary).toMatchObject({ dryRun: true, total: 10, wouldWrite: 10, upToDate: 0 });
    expect(fresh.summary.bytesIn).toBe(
      (await stat(join(ws.dir, "photos", "large.jpg"))).size + (await stat(join(ws.dir, "photos", "small.jpg"))).size,
    );
    expect(existsSync(join(ws.dir, "dry"))).toBe(false);
    expect(await hasBackend(ws)).toBe(false);
    await processJson(ws, renditionArgs);
    await writeJpeg(join(ws.dir, "photos", "small.jpg"), 300, 200);
    const planned = await processJson(ws, [...renditionArgs, "--dry-run"]);
    expect(planned.summary).toMatchObject({ total: 8, wouldWrite: 2, upToDate: 6 });
    expect(outputsWith(planned.lines, "would-write")).toEqual(["web/small-300w.jpg", "web/small-300w.webp"]);
    expect(await outputsIn(join(ws.dir, "web"))).not.toContain("small-300w.jpg");
  });
});

describe("web formats in renditions", () => {
  it("an animated GIF keeps its frames in every WebP size; AVIF keeps its first frame, and says so", async () => {
    const ws = await workspace();
    await mkdir(join(ws.dir, "anim"));
    await writeFile(join(ws.dir, "anim", "spinner.gif"), await animatedGif(8, 120, 80));
    const args = ["anim", "--width", "30,60", "--type", "webp,avif", "-o", "out/"];
    const { lines, summary } = await processJson(ws, args);
    expect(summary).toMatchObject({ total: 4, ok: 4 });
    for (const width of [30, 60]) {
      const webp = await sharp(join(ws.dir, "out", `spinner-${width}w.webp`)).metadata();
      expect(webp).toMatchObject({ format: "webp", pages: 8, width });
      const avif = await sharp(join(ws.dir, "out", `spinner-${width}w.avif`)).metadata();
      expect(avif).toMatchObject({ format: "heif", compression: "av1", width });
      const line = lines.find((l) => l.output === `out/spinner-${width}w.avif`) as Line & { warning?: string };
      expect(line.warning).toContain("only the first of 8 frames");
    }
  });
});

describe("an interrupted build", () => {
  it("SIGINT: the manifest and the record describe the outputs on disk, and the next run does the rest", async () => {
    const ws = await workspace();
    await mkdir(join(ws.dir, "many"));
    for (let i = 0; i < 12; i++) await writeJpeg(join(ws.dir, "many", `m-${String(i).padStart(2, "0")}.jpg`), 900, 600);
    const args = ["many", "--width", "200,400", "--type", "webp", "-o", "web/", "--manifest", "web/m.json"];
    const child = ws.start(["process", ...args, "--concurrency", "1"]);
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const firstDone = new Promise<void>((resolve) => child.stdout?.on("data", () => resolve()));
    const closed = new Promise<number | null>((resolve) => child.once("close", resolve));
    await Promise.race([firstDone, closed]);
    child.kill("SIGINT");
    expect(await closed, stderr).toBe(130);
    const manifest = JSON.parse(await readFile(join(ws.dir, "web", "m.json"), "utf8"));
    const listed = manifest.inputs.flatMap((i: { outputs: Array<{ path: string; hash: string }> }) => i.outputs);
    const onDisk = (await outputsIn(join(ws.dir, "web"))).filter((name) => name !== "m.json");
    expect(listed.map((o: { path: string }) => o.path).sort()).toEqual(onDisk);
    expect(onDisk.length).toBeGreaterThan(0);
    expect(onDisk.length).toBeLessThan(24);
    for (const output of listed) expect(await sha(join(ws.dir, "web", output.path))).toBe(output.hash);
    const rest = await processJson(ws, args);
    expect(rest.summary).toMatchObject({ total: 24, upToDate: onDisk.length, ok: 24 - onDisk.length });
  });
});

describe("the README's CI recipe", () => {
  it("runs as written; the next run, the output folder restored from the cache, makes and starts nothing", async () => {
    const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
    const section = readme.slice(readme.indexOf("## Responsive images in CI"));
    const line = /- run: npx aciimg (process .*) > report\.jsonl/.exec(section)?.[1];
    expect(line, "the README's CI job has an `npx aciimg process … > report.jsonl` step").toBeDefined();
    // The step's words as the shell splits them (single quotes only, as the recipe uses).
    const args = [...(line ?? "").matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? "");
    expect(args).toEqual(expect.arrayContaining(["--manifest", "--prune", "--json"]));
    const ws = await workspace();
    await mkdir(join(ws.dir, "assets", "icons"), { recursive: true });
    await writeJpeg(join(ws.dir, "assets", "hero.jpg"), 1920, 1080);
    await sharp({ create: { width: 256, height: 256, channels: 4, background: "#1d4e89" } })
      .png()
      .toFile(join(ws.dir, "assets", "icons", "logo.png"));
    const first = await ws.run(args);
    expect(first.code, first.stderr).toBe(0);
    expect(jsonLines(first.stdout).at(-1)?.summary).toMatchObject({ total: 8, inputs: 2, ok: 8 });
    const manifest = await readFile(join(ws.dir, "web", "images.json"), "utf8");
    expect((await ws.run(["down"])).code).toBe(0);
    const second = await ws.run(args);
    expect(second.code, second.stderr).toBe(0);
    expect(jsonLines(second.stdout).at(-1)?.summary).toMatchObject({ total: 8, ok: 0, upToDate: 8 });
    expect(await hasBackend(ws)).toBe(false);
    expect(await readFile(join(ws.dir, "web", "images.json"), "utf8")).toBe(manifest);
  });
});
