/**
 * `aciimg process` end to end: the spawned CLI, one warm local backend shared by the file (the
 * tests here are about processing, not cold starts), images made by sharp.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cliPath,
  createWorkspace,
  jsonLines,
  outputFilesUnder,
  outputsIn,
  writeJpeg,
  type Workspace,
} from "./cli-harness.js";

let ws: Workspace;
let photo: string;
const sha = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

const listFiles = outputFilesUnder;

beforeAll(async () => {
  ws = await createWorkspace("aciimg-e2e-process-");
  photo = join(ws.dir, "photo.jpg");
  await writeJpeg(photo, 600, 400);
  const up = await ws.run(["up", "--json"]);
  expect(up.code, up.stderr).toBe(0);
});
afterAll(async () => {
  await ws.cleanup();
});

describe("aciimg process", () => {
  it("resizes one file into an output directory, keeping its name and leaving the input untouched", async () => {
    const before = await sha(photo);
    const result = await ws.run(["process", "photo.jpg", "--resize", "300x200", "-o", "out1/"]);
    expect(result.code, result.stderr).toBe(0);
    expect(await sharp(join(ws.dir, "out1", "photo.jpg")).metadata()).toMatchObject({
      width: 300,
      height: 200,
      format: "jpeg",
    });
    expect(await sha(photo)).toBe(before);
    expect(result.stdout).toMatch(/^ok photo\.jpg -> out1\/photo\.jpg /);
  });

  it("names the output after --type: photo.jpg becomes out/photo.webp", async () => {
    const result = await ws.run(["process", "photo.jpg", "--width", "120", "--type", "webp", "-o", "out2"]);
    expect(result.code, result.stderr).toBe(0);
    expect(await sharp(join(ws.dir, "out2", "photo.webp")).metadata()).toMatchObject({ width: 120, format: "webp" });
  });

  it("writes to a file path when given one", async () => {
    const result = await ws.run(["process", "photo.jpg", "--fit", "100x100", "-o", "single.png", "--type", "png"]);
    expect(result.code, result.stderr).toBe(0);
    expect(await sharp(join(ws.dir, "single.png")).metadata()).toMatchObject({ width: 100, height: 67, format: "png" });
  });

  it(
    "refuses an image file name as -o for several inputs (exit 2, " +
      "nothing made); with a trailing / it is a folder of that name",
    async () => {
      await writeJpeg(join(ws.dir, "second.jpg"), 200, 100);
      const refused = await ws.run(["process", "photo.jpg", "second.jpg", "--width", "50", "-o", "many/thumb.jpg"]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toBe(
        "aciimg: -o/--output: expected a folder when the inputs are several files, " +
          'a folder or a glob (end it with / to make a folder of that name), got "many/thumb.jpg (a file name)"\n',
      );
      expect(existsSync(join(ws.dir, "many"))).toBe(false);
      const folder = await ws.run(["process", "photo.jpg", "second.jpg", "--width", "50", "-o", "many/thumb.jpg/"]);
      expect(folder.code, folder.stderr).toBe(0);
      expect(await outputsIn(join(ws.dir, "many", "thumb.jpg"))).toEqual(["photo.jpg", "second.jpg"]);
      // One input that is not there is reported as missing, whatever -o says.
      const missing = await ws.run(["process", "no-such.jpg", "--width", "50", "-o", "one.jpg"]);
      expect({ code: missing.code, stderr: missing.stderr }).toEqual({
        code: 1,
        stderr: "aciimg: cannot read input no-such.jpg: no such file or directory\n",
      });
    },
  );

  it("a 255-byte name is written; one that --type would make 256 bytes is refused before any work", async () => {
    const stem = "n".repeat(251);
    await mkdir(join(ws.dir, "long-names"));
    await writeJpeg(join(ws.dir, "long-names", `${stem}.jpg`), 160, 120);
    const kept = await ws.run(["process", "long-names", "--width", "40", "-o", "out-long/", "--json"]);
    expect(kept.code, kept.stderr).toBe(0);
    expect(await sharp(join(ws.dir, "out-long", `${stem}.jpg`)).metadata()).toMatchObject({ width: 40, height: 30 });
    const lengthened = await ws.run([
      "process",
      "long-names",
      "--width",
      "40",
      "--type",
      "webp",
      "-o",
      "out-long-webp/",
      "--json",
    ]);
    expect(lengthened.code).toBe(1);
    expect(jsonLines(lengthened.stdout).at(-1)).toMatchObject({
      summary: {
        total: 1,
        failed: 1,
        failures: [
          {
            code: "E_OUTPUT",
            error:
              `refusing to write out-long-webp/${stem}.webp: ` +
              `its name is 256 bytes long, more than the 255 a file name can hold`,
          },
        ],
      },
    });
    expect(existsSync(join(ws.dir, "out-long-webp"))).toBe(false);
  });

  it("processes a directory recursively, keeping sub-folders", async () => {
    await mkdir(join(ws.dir, "tree", "sub"), { recursive: true });
    await writeJpeg(join(ws.dir, "tree", "a.jpg"), 200, 100);
    await sharp(await readFile(photo))
      .png()
      .toFile(join(ws.dir, "tree", "sub", "b.png"));
    const result = await ws.run(["process", "tree", "--thumbnail", "50", "-o", "out3"]);
    expect(result.code, result.stderr).toBe(0);
    expect(await listFiles(join(ws.dir, "out3"))).toEqual(["a.jpg", "sub/b.png"]);
    expect(await sharp(join(ws.dir, "out3", "sub", "b.png")).metadata()).toMatchObject({ width: 50, format: "png" });
  });

  it("does not take an earlier run's outputs inside the searched directory as inputs", async () => {
    const dir = join(ws.dir, "nested");
    await mkdir(dir, { recursive: true });
    await writeJpeg(join(dir, "n.jpg"), 200, 100);
    for (let run = 0; run < 2; run++) {
      const result = await ws.run(["process", "nested", "--thumbnail", "40", "-o", "nested/small", "--json"]);
      expect(result.code, result.stderr).toBe(0);
      // The second run finds its output up to date (the incremental record), and only that output.
      const done = run === 0 ? { ok: 1, upToDate: 0 } : { ok: 0, upToDate: 1 };
      expect(jsonLines(result.stdout).at(-1)).toMatchObject({ summary: { total: 1, ...done } });
    }
    expect(await listFiles(dir)).toEqual(["n.jpg", "small/n.jpg"]);
  });

  it("expands globs", async () => {
    await mkdir(join(ws.dir, "globbed"), { recursive: true });
    for (const name of ["x1.jpg", "x2.jpg", "y.jpg"]) await writeJpeg(join(ws.dir, "globbed", name), 160, 120);
    const result = await ws.run(["process", "globbed/x*.jpg", "--resize", "80x60", "-o", "out4/"]);
    expect(result.code, result.stderr).toBe(0);
    expect(await listFiles(join(ws.dir, "out4"))).toEqual(["x1.jpg", "x2.jpg"]);
  });

  it("processes a file over 8 MiB, streamed from disk", async () => {
    const big = join(ws.dir, "noise.png");
    await sharp({
      create: {
        width: 2000,
        height: 1500,
        channels: 3,
        background: "#000",
        noise: { type: "gaussian", mean: 128, sigma: 60 },
      },
    })
      .png({ compressionLevel: 0 })
      .toFile(big);
    expect((await stat(big)).size).toBeGreaterThan(8 * 1024 * 1024);
    const result = await ws.run(["process", "noise.png", "--resize", "100x75", "-o", "outbig/"]);
    expect(result.code, result.stderr).toBe(0);
    expect(await sharp(join(ws.dir, "outbig", "noise.png")).metadata()).toMatchObject({
      width: 100,
      height: 75,
      format: "png",
    });
  });

  it("reads stdin and writes the image to stdout with -", async () => {
    const result = await ws.run(["process", "-", "--thumbnail", "64"], { input: await readFile(photo) });
    expect(result.code, result.stderr).toBe(0);
    expect(await sharp(result.stdoutBytes).metadata()).toMatchObject({ width: 64, format: "jpeg" });
  });

  it("sends several operations as one pipeline, in order", async () => {
    const result = await ws.run([
      "process",
      "photo.jpg",
      "--crop",
      "200x200",
      "--rotate",
      "90",
      "--type",
      "png",
      "-o",
      "out5/",
      "--json",
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(await sharp(join(ws.dir, "out5", "photo.png")).metadata()).toMatchObject({
      width: 200,
      height: 200,
      format: "png",
    });
  });

  it("runs any operation with --op and --param", async () => {
    const result = await ws.run([
      "process",
      "photo.jpg",
      "--op",
      "extract",
      "--param",
      "areawidth=50",
      "--param",
      "areaheight=40",
      "-o",
      "out6/",
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(await sharp(join(ws.dir, "out6", "photo.jpg")).metadata()).toMatchObject({ width: 50, height: 40 });
  });

  it("writes one --json line per file and a summary", async () => {
    const result = await ws.run([
      "process",
      "globbed",
      "--resize",
      "80x60",
      "-o",
      "out7",
      "--json",
      "--concurrency",
      "2",
    ]);
    expect(result.code, result.stderr).toBe(0);
    const lines = jsonLines(result.stdout);
    expect(lines).toHaveLength(4);
    const files = lines.slice(0, 3).sort((a, b) => String(a.input).localeCompare(String(b.input)));
    expect(files[0]).toMatchObject({ input: "globbed/x1.jpg", output: "out7/x1.jpg", status: "ok" });
    for (const line of files) {
      expect(line.bytes).toBe((await stat(join(ws.dir, String(line.output)))).size);
      expect(typeof line.ms).toBe("number");
    }
    expect(lines[3]).toMatchObject({ summary: { total: 3, ok: 3, failed: 0, skipped: 0, failures: [] } });
  });

  it("skips outputs that exist with --skip-existing", async () => {
    const result = await ws.run(["process", "globbed", "--resize", "80x60", "-o", "out7", "--json", "--skip-existing"]);
    expect(result.code, result.stderr).toBe(0);
    expect(jsonLines(result.stdout).at(-1)).toMatchObject({ summary: { total: 3, ok: 0, skipped: 3 } });
  });
});

describe("bad input: a clear error, nothing lost", () => {
  it("a missing input file exits 1 naming it", async () => {
    const result = await ws.run(["process", "nope.jpg", "--resize", "30x20", "-o", "outm/"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("aciimg: cannot read input nope.jpg: no such file or directory\n");
  });

  it("a directory with no images exits 1 saying what was looked for", async () => {
    await mkdir(join(ws.dir, "empty-dir"), { recursive: true });
    await writeFile(join(ws.dir, "empty-dir", "readme.txt"), "not an image");
    const result = await ws.run(["process", "empty-dir", "--resize", "30x20", "-o", "oute/"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^aciimg: no images in directory empty-dir \(looked for \*\.jpg/);
  });

  it(
    "files and folders whose names are not UTF-8 (Latin-1 café.jpg) " +
      "are each reported as such; the rest are processed",
    async () => {
      const root = join(ws.dir, "latin1");
      await mkdir(root);
      await writeJpeg(join(root, "plain.jpg"), 160, 120);
      const jpeg = await readFile(join(root, "plain.jpg"));
      const latin1 = (name: string): Buffer => Buffer.concat([Buffer.from(`${root}/`), Buffer.from(name, "latin1")]);
      await writeFile(latin1("café.jpg"), jpeg);
      await mkdir(latin1("déjà"));
      await writeFile(Buffer.concat([latin1("déjà"), Buffer.from("/inside.jpg")]), jpeg);
      await writeFile(latin1("notes-é.txt"), "not an image, not searched for");
      const result = await ws.run(["process", "latin1", "--width", "40", "-o", "out-latin1/", "--json"]);
      expect(result.code).toBe(1);
      const summary = jsonLines(result.stdout).at(-1)?.summary as {
        total: number;
        ok: number;
        failed: number;
        failures: Array<{ input: string; code: string; error: string }>;
      };
      expect(summary).toMatchObject({ total: 3, ok: 1, failed: 2 });
      const said =
        "its name is not valid UTF-8, and aciimg can open files only by UTF-8 names; " +
        "rename it (convmv converts names from another encoding)";
      expect(summary.failures.map((f) => [f.input, f.code, f.error]).sort()).toEqual([
        ["latin1/caf\uFFFD.jpg", "E_BAD_INPUT", `cannot read latin1/caf\uFFFD.jpg: ${said}`],
        ["latin1/d\uFFFDj\uFFFD", "E_BAD_INPUT", `cannot read latin1/d\uFFFDj\uFFFD: ${said}`],
      ]);
      expect(await outputsIn(join(ws.dir, "out-latin1"))).toEqual(["plain.jpg"]);
    },
  );

  it("a non-image inside a batch fails alone: the others are processed and the summary names it", async () => {
    const dir = join(ws.dir, "mixed");
    await mkdir(dir, { recursive: true });
    await writeJpeg(join(dir, "a.jpg"), 120, 80);
    await writeJpeg(join(dir, "c.jpg"), 120, 80);
    await writeFile(join(dir, "b.jpg"), "this is text, not a JPEG\n".repeat(20));
    const result = await ws.run(["process", "mixed", "--resize", "60x40", "-o", "outx", "--json"]);
    expect(result.code).toBe(1);
    const lines = jsonLines(result.stdout);
    const summary = lines.at(-1)?.summary as {
      ok: number;
      failed: number;
      failures: Array<{ input: string; code: string }>;
    };
    expect(summary).toMatchObject({ ok: 2, failed: 1 });
    expect(summary.failures).toEqual([expect.objectContaining({ input: "mixed/b.jpg", code: "E_IMAGE" })]);
    expect(await listFiles(join(ws.dir, "outx"))).toEqual(["a.jpg", "c.jpg"]);
  });

  it("zero-byte and truncated images fail with a clear error and leave no output", async () => {
    const dir = join(ws.dir, "broken");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "zero.jpg"), "");
    const whole = await readFile(photo);
    await writeFile(join(dir, "cut.jpg"), whole.subarray(0, Math.floor(whole.length / 3)));
    const result = await ws.run(["process", "broken", "--resize", "60x40", "-o", "outb", "--json"]);
    expect(result.code).toBe(1);
    const byInput = Object.fromEntries(
      jsonLines(result.stdout)
        .filter((l) => l.input)
        .map((l) => [l.input, l]),
    );
    expect(byInput["broken/zero.jpg"]).toMatchObject({
      status: "failed",
      code: "E_BAD_INPUT",
      error: "broken/zero.jpg is empty (0 bytes), not an image",
    });
    expect(byInput["broken/cut.jpg"]).toMatchObject({ status: "failed", code: "E_BAD_INPUT" });
    expect(byInput["broken/cut.jpg"]?.error).toBe(
      "broken/cut.jpg is truncated: the JPEG ends before its end-of-image marker (an incomplete copy or download?)",
    );
    // Nothing to write: the output folder is not even created.
    expect(existsSync(join(ws.dir, "outb"))).toBe(false);
  });

  it("an image over the resolution limit is refused by the backend (422) and reported", async () => {
    await sharp({ create: { width: 6000, height: 3100, channels: 3, background: "#888" } })
      .jpeg()
      .toFile(join(ws.dir, "huge.jpg"));
    const result = await ws.run(["process", "huge.jpg", "--resize", "60x40", "-o", "outh/", "--json"]);
    expect(result.code).toBe(1);
    const [line] = jsonLines(result.stdout);
    expect(line).toMatchObject({ input: "huge.jpg", status: "failed", code: "E_IMAGE" });
    expect(String(line?.error)).toMatch(/resolution/i);
  });

  it("refuses an output path equal to the input, leaving the input as it was", async () => {
    const before = await sha(photo);
    const result = await ws.run(["process", "photo.jpg", "--resize", "30x20", "-o", "photo.jpg"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^aciimg: refusing to write photo\.jpg: the output would overwrite the input\n$/);
    expect(await sha(photo)).toBe(before);
  });

  it("never overwrites another input: a.jpg → a.png next to an input a.png is refused", async () => {
    const dir = join(ws.dir, "pair");
    await mkdir(dir, { recursive: true });
    await writeJpeg(join(dir, "a.jpg"), 120, 80);
    await sharp(await readFile(join(dir, "a.jpg")))
      .png()
      .toFile(join(dir, "a.png"));
    const before = await sha(join(dir, "a.png"));
    const result = await ws.run([
      "process",
      "pair/a.jpg",
      "pair/a.png",
      "--resize",
      "60x40",
      "--type",
      "png",
      "-o",
      "pair",
      "--json",
    ]);
    expect(result.code).toBe(1);
    const failures = (jsonLines(result.stdout).at(-1)!.summary as { failures: Array<{ input: string; error: string }> })
      .failures;
    expect(failures.map((f) => f.input).sort()).toEqual(["pair/a.jpg", "pair/a.png"]);
    expect(await sha(join(dir, "a.png"))).toBe(before);
  });

  it("an output directory that cannot be created fails before any work", async () => {
    await writeFile(join(ws.dir, "a-file"), "x");
    const result = await ws.run(["process", "photo.jpg", "--resize", "30x20", "-o", "a-file/out/"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^aciimg: cannot write to output directory .*a-file\/out: ENOTDIR/);
  });

  it("an output that cannot be written fails that file alone and leaves no temporary file", async () => {
    const dir = join(ws.dir, "outw");
    // A directory where the output file should go: the rename into place fails.
    await mkdir(join(dir, "x1.jpg"), { recursive: true });
    const result = await ws.run(["process", "globbed", "--resize", "80x60", "-o", "outw", "--json"]);
    expect(result.code).toBe(1);
    const summary = jsonLines(result.stdout).at(-1)?.summary as {
      ok: number;
      failures: Array<{ input: string; code: string }>;
    };
    expect(summary.ok).toBe(2);
    expect(summary.failures).toEqual([expect.objectContaining({ input: "globbed/x1.jpg", code: "E_OUTPUT" })]);
    expect(await listFiles(dir)).toEqual(["x2.jpg", "y.jpg"]);
    expect((await readdir(dir, { recursive: true })).filter((name) => name.includes("aciimg-tmp"))).toEqual([]);
  });
});

describe("on a terminal", () => {
  it("shows a progress line with done/total and images/s, then the summary", async () => {
    await mkdir(join(ws.dir, "tty"), { recursive: true });
    for (const name of ["x1.jpg", "x2.jpg", "y.jpg"]) await writeJpeg(join(ws.dir, "tty", name), 160, 120);
    // util-linux `script` gives the CLI a real pseudo-terminal; stty gives it a width.
    const command =
      `stty cols 100; ${JSON.stringify(process.execPath)} ` +
      `${JSON.stringify(cliPath)} process tty --resize 80x60 -o outt/`;
    const result = await ws.runCommand("script", ["-qec", command, "/dev/null"]);
    expect(result.code, result.stdout).toBe(0);
    const screen = result.stdout.replace(/\u001b\[[0-9;?]*[a-zA-Z]/g, "");
    expect(screen).toMatch(/\d\/3 · [\d.]+ img\/s/);
    expect(screen).toContain("3/3 images processed in");
    expect(await listFiles(join(ws.dir, "outt"))).toEqual(["x1.jpg", "x2.jpg", "y.jpg"]);
  });
});

describe("process - with a terminal on either end", () => {
  const cli = `${JSON.stringify(process.execPath)} ${JSON.stringify(cliPath)}`;

  it("refuses to print image bytes to a terminal, before anything is read or started (exit 2)", async () => {
    await writeJpeg(join(ws.dir, "to-tty.jpg"), 160, 120);
    const result = await ws.runCommand(
      "script",
      ["-qec", `${cli} process - --resize 80x60 < to-tty.jpg; echo "exit $?"`, "/dev/null"],
      { timeoutMs: 20_000 },
    );
    expect(result.stdout).toContain(
      "aciimg: -: stdout is a terminal, " +
        "and image bytes would garble it; write to a file with -o FILE, or redirect (> out.jpg)",
    );
    expect(result.stdout).toMatch(/exit 2\r?\n$/);
  });

  it("refuses to read an image typed at a terminal instead of waiting for one (exit 2)", async () => {
    const result = await ws.runCommand(
      "script",
      ["-qec", `${cli} process - --resize 80x60 -o typed.jpg; echo "exit $?"`, "/dev/null"],
      { timeoutMs: 20_000 },
    );
    expect(result.stdout).toContain(
      "aciimg: -: stdin is a terminal; pipe or redirect an image into it (aciimg process - < photo.jpg)",
    );
    expect(result.stdout).toMatch(/exit 2\r?\n$/);
    expect(existsSync(join(ws.dir, "typed.jpg"))).toBe(false);
  });
});

describe("stopping a batch", () => {
  it("SIGINT stops after the files in flight, exits 130 and leaves only complete outputs", async () => {
    const dir = join(ws.dir, "many");
    await mkdir(dir, { recursive: true });
    for (let i = 0; i < 40; i++) await writeJpeg(join(dir, `m-${String(i).padStart(2, "0")}.jpg`), 900, 600);
    const child = ws.start(["process", "many", "--resize", "300x200", "-o", "outi", "--json", "--concurrency", "1"]);
    let stdout = "";
    const firstDone = new Promise<void>((resolve) =>
      child.stdout?.on("data", (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('"status":"ok"')) resolve();
      }),
    );
    const closed = new Promise<number | null>((resolve) => child.once("close", resolve));
    await Promise.race([firstDone, closed]);
    child.kill("SIGINT");
    expect(await closed).toBe(130);
    // The summary, then the E_ABORTED error line (docs/cli.md "Exit codes").
    const summary = jsonLines(stdout).find((line) => "summary" in line)?.summary as { ok: number; total: number };
    expect(summary.ok).toBeGreaterThan(0);
    expect(summary.ok).toBeLessThan(40);
    const written = await listFiles(join(ws.dir, "outi"));
    expect(written).toHaveLength(summary.ok);
    for (const name of written)
      expect(await sharp(join(ws.dir, "outi", name)).metadata()).toMatchObject({ width: 300, height: 200 });
  });
});

describe("status", () => {
  it("never shows the key unless --show-key", async () => {
    const { apiKey } = (await ws.state()).backends.default ?? { apiKey: "" };
    expect(apiKey.length).toBeGreaterThan(8);
    const human = await ws.run(["status"]);
    const json = await ws.run(["status", "--json"]);
    expect(human.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ provider: "local", state: "running" });
    expect(human.stdout + human.stderr + json.stdout + json.stderr).not.toContain(apiKey);
    const shown = await ws.run(["status", "--json", "--show-key"]);
    expect(JSON.parse(shown.stdout).apiKey).toBe(apiKey);
  });
});
