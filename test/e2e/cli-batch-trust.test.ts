/**
 * `aciimg process` never loses or overwrites an input and never reports work it did not do:
 * symbolic links (named, met while searching, looping), stdin, globs, unreadable folders, output
 * names and a real SIGINT mid-batch. The spawned CLI on real files, one warm local backend.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliForNobody, isRoot, NOBODY, nobodysEnv } from "../helpers/users.js";
import { cliPath, createWorkspace, jsonLines, outputFilesUnder, writeJpeg, type Workspace } from "./cli-harness.js";

let ws: Workspace;
const nobodysCli = cliForNobody();
const sha = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

const listFiles = outputFilesUnder;

type Summary = {
  total: number;
  ok: number;
  failed: number;
  skipped: number;
  cancelled: number;
  stopped: string | null;
  failures: Array<{ input: string; code: string; error: string }>;
};
const summaryOf = (stdout: string): Summary => jsonLines(stdout).find((line) => "summary" in line)?.summary as Summary;

beforeAll(async () => {
  ws = await createWorkspace("aciimg-e2e-trust-");
  const up = await ws.run(["up", "--json"]);
  expect(up.code, up.stderr).toBe(0);
});
afterAll(async () => {
  await ws.cleanup();
});

describe("inputs reached through symbolic links are never overwritten", () => {
  it("a linked folder whose output folder is the real one: every file refused, originals intact, exit 1", async () => {
    await mkdir(join(ws.dir, "real"));
    await writeJpeg(join(ws.dir, "real", "p2.jpg"), 300, 200);
    await symlink("real", join(ws.dir, "reallink"));
    const before = await sha(join(ws.dir, "real", "p2.jpg"));
    const result = await ws.run(["process", "reallink", "--resize", "10x10", "-o", "real/", "--json"]);
    expect(result.code).toBe(1);
    expect(summaryOf(result.stdout)).toMatchObject({
      total: 1,
      ok: 0,
      failed: 1,
      failures: [{ input: "reallink/p2.jpg", code: "E_OUTPUT" }],
    });
    expect(summaryOf(result.stdout).failures[0]?.error).toContain("the output would overwrite the input");
    expect(await sha(join(ws.dir, "real", "p2.jpg"))).toBe(before);
  });

  it("a linked file whose output is its target: refused, target intact", async () => {
    await mkdir(join(ws.dir, "same"));
    await writeJpeg(join(ws.dir, "same", "a.jpg"), 300, 200);
    await symlink("a.jpg", join(ws.dir, "same", "link.jpg"));
    const before = await sha(join(ws.dir, "same", "a.jpg"));
    const result = await ws.run(["process", "same/link.jpg", "--resize", "10x10", "-o", "same/a.jpg"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("refusing to write same/a.jpg: the output would overwrite the input");
    // An output that is itself a link to the input resolves onto it too.
    const viaLink = await ws.run(["process", "same/a.jpg", "--resize", "10x10", "-o", "same/link.jpg"]);
    expect(viaLink.code).toBe(1);
    expect(viaLink.stderr).toContain("refusing to write same/link.jpg");
    expect((await lstat(join(ws.dir, "same", "link.jpg"))).isSymbolicLink()).toBe(true);
    expect(await sha(join(ws.dir, "same", "a.jpg"))).toBe(before);
  });

  it("an output folder that is a link into the inputs is seen through", async () => {
    await mkdir(join(ws.dir, "orig"));
    await writeJpeg(join(ws.dir, "orig", "o.jpg"), 300, 200);
    await symlink("orig", join(ws.dir, "thumbs-link"));
    const before = await sha(join(ws.dir, "orig", "o.jpg"));
    const result = await ws.run(["process", "orig/o.jpg", "--resize", "10x10", "-o", "thumbs-link/"]);
    expect(result.code).toBe(1);
    expect(await sha(join(ws.dir, "orig", "o.jpg"))).toBe(before);
  });

  it("links met while searching are passed by, and said so; --follow-symlinks follows them", async () => {
    await mkdir(join(ws.dir, "elsewhere"));
    await writeJpeg(join(ws.dir, "elsewhere", "x.jpg"), 120, 80);
    await mkdir(join(ws.dir, "tree"));
    await writeJpeg(join(ws.dir, "tree", "own.jpg"), 120, 80);
    await symlink("../elsewhere", join(ws.dir, "tree", "linked-dir"));
    await symlink("../elsewhere/x.jpg", join(ws.dir, "tree", "linked.jpg"));
    const plain = await ws.run(["process", "tree", "--resize", "20x20", "-o", "out-nofollow", "--json"]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(summaryOf(plain.stdout)).toMatchObject({ total: 1, ok: 1 });
    expect(plain.stderr).toContain("passed by 2 symbolic link(s)");
    expect(await listFiles(join(ws.dir, "out-nofollow"))).toEqual(["own.jpg"]);
    const followed = await ws.run([
      "process",
      "tree",
      "--resize",
      "20x20",
      "-o",
      "out-follow",
      "--json",
      "--follow-symlinks",
    ]);
    expect(followed.code, followed.stderr).toBe(0);
    // x.jpg is reached twice (through the folder link and the file link) and processed once.
    expect(summaryOf(followed.stdout)).toMatchObject({ total: 2, ok: 2 });
    const written = await listFiles(join(ws.dir, "out-follow"));
    expect(written).toHaveLength(2);
    expect(written).toContain("own.jpg");
  });

  it("a link loop ends: each real file is processed once", async () => {
    await mkdir(join(ws.dir, "loop", "sub"), { recursive: true });
    await writeJpeg(join(ws.dir, "loop", "a.jpg"), 120, 80);
    await writeJpeg(join(ws.dir, "loop", "sub", "b.jpg"), 120, 80);
    await symlink("..", join(ws.dir, "loop", "sub", "up"));
    await symlink(".", join(ws.dir, "loop", "self"));
    const result = await ws.run([
      "process",
      "loop",
      "--resize",
      "20x20",
      "-o",
      "out-loop",
      "--json",
      "--follow-symlinks",
    ]);
    expect(result.code, result.stderr).toBe(0);
    const files = jsonLines(result.stdout).filter((line) => "input" in line);
    expect(files.map((line) => line.input).sort()).toEqual(["loop/a.jpg", "loop/sub/b.jpg"]);
    expect(summaryOf(result.stdout)).toMatchObject({ total: 2, ok: 2 });
  });
});

describe("stdin", () => {
  it("a truncated image on stdin fails as E_BAD_INPUT and writes nothing", async () => {
    const whole = await readFile(join(ws.dir, "real", "p2.jpg"));
    const result = await ws.run(["process", "-", "--resize", "30x20"], {
      input: whole.subarray(0, Math.floor(whole.length / 2)),
    });
    expect(result.code).toBe(1);
    expect(result.stdoutBytes.length).toBe(0);
    expect(result.stderr).toBe(
      "aciimg: the image on stdin is truncated: " +
        "the JPEG ends before its end-of-image marker (an incomplete copy or download?)\n",
    );
  });

  it("-o with a trailing slash or an existing folder is a usage error naming -o", async () => {
    const photo = await readFile(join(ws.dir, "real", "p2.jpg"));
    for (const output of ["newdir/", "real"]) {
      const result = await ws.run(["process", "-", "--resize", "30x20", "-o", output], { input: photo });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^aciimg: -o\/--output: expected a file for the image read from stdin/);
    }
    expect(existsSync(join(ws.dir, "newdir"))).toBe(false);
  });

  it("-o into a new folder creates it, takes the type from the name, and reports the file like any input", async () => {
    const photo = await readFile(join(ws.dir, "real", "p2.jpg"));
    const text = await ws.run(["process", "-", "--resize", "30x20", "-o", "stdin-out/deep/x.png"], { input: photo });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^ok - -> stdin-out\/deep\/x\.png 30x20 \d+ B \d+ ms\n$/);
    expect(await sharp(join(ws.dir, "stdin-out", "deep", "x.png")).metadata()).toMatchObject({
      format: "png",
      width: 30,
      height: 20,
    });
    const json = await ws.run(["process", "-", "--resize", "30x20", "-o", "stdin-out/y.webp", "--json"], {
      input: photo,
    });
    expect(json.code, json.stderr).toBe(0);
    const [line, summary] = jsonLines(json.stdout);
    expect(line).toMatchObject({ input: "-", output: "stdin-out/y.webp", status: "ok", width: 30, height: 20 });
    expect(summary).toMatchObject({ summary: { total: 1, ok: 1 } });
    expect(await sharp(join(ws.dir, "stdin-out", "y.webp")).metadata()).toMatchObject({ format: "webp" });
  });
});

describe("globs, folders and output names", () => {
  it("a glob keeps the sub-folders below its static base, so same-named files do not collide", async () => {
    await mkdir(join(ws.dir, "assets", "icons"), { recursive: true });
    await mkdir(join(ws.dir, "assets", "photos"), { recursive: true });
    await writeJpeg(join(ws.dir, "assets", "photos", "logo.jpg"), 200, 100);
    await sharp(await readFile(join(ws.dir, "assets", "photos", "logo.jpg")))
      .png()
      .toFile(join(ws.dir, "assets", "icons", "logo.png"));
    const result = await ws.run([
      "process",
      "assets/**/*.{jpg,png}",
      "--fit",
      "40x40",
      "--type",
      "webp",
      "-o",
      "thumbs/",
      "--json",
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(await listFiles(join(ws.dir, "thumbs"))).toEqual(["icons/logo.webp", "photos/logo.webp"]);
  });

  it("the CI recipe of docs/cli.md runs as written: same-named files in different folders both land", async () => {
    const cliReference = await readFile(new URL("../../docs/cli.md", import.meta.url), "utf8");
    const line = /- run: npx aciimg (process .*) --json > report\.jsonl/.exec(cliReference)?.[1];
    expect(line, "docs/cli.md's CI job has an `npx aciimg process … --json > report.jsonl` step").toBeDefined();
    // The step's words as the shell splits them (single quotes only, as the recipe uses).
    const args = [...(line ?? "").matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? "");
    const recipe = join(ws.dir, "recipe");
    await mkdir(join(recipe, "assets", "icons"), { recursive: true });
    await mkdir(join(recipe, "assets", "photos"), { recursive: true });
    await writeJpeg(join(recipe, "assets", "photos", "logo.jpg"), 800, 600);
    await sharp(await readFile(join(recipe, "assets", "photos", "logo.jpg")))
      .png()
      .toFile(join(recipe, "assets", "icons", "logo.png"));
    const result = await ws.run([...args, "--json"], { cwd: recipe });
    expect(result.code, result.stderr).toBe(0);
    expect(summaryOf(result.stdout)).toMatchObject({ total: 2, ok: 2, failed: 0 });
    expect(await listFiles(join(recipe, "thumbs"))).toEqual(["icons/logo.webp", "photos/logo.webp"]);
  });

  it("converts next to the originals when -o is the searched folder", async () => {
    await mkdir(join(ws.dir, "ph"));
    await writeJpeg(join(ws.dir, "ph", "a.jpg"), 200, 100);
    await writeJpeg(join(ws.dir, "ph", "b.jpg"), 200, 100);
    const before = await sha(join(ws.dir, "ph", "a.jpg"));
    const result = await ws.run(["process", "ph", "--type", "webp", "-o", "ph", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(summaryOf(result.stdout)).toMatchObject({ total: 2, ok: 2 });
    expect(await listFiles(join(ws.dir, "ph"))).toEqual(["a.jpg", "a.webp", "b.jpg", "b.webp"]);
    expect(await sha(join(ws.dir, "ph", "a.jpg"))).toBe(before);
  });

  it("-o x.webp writes WebP; a name that contradicts --type or that aciimg cannot write is a usage error", async () => {
    const ok = await ws.run(["process", "real/p2.jpg", "--resize", "30x20", "-o", "named.webp"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await sharp(join(ws.dir, "named.webp")).metadata()).toMatchObject({ format: "webp", width: 30 });
    const contradiction = await ws.run([
      "process",
      "real/p2.jpg",
      "--resize",
      "30x20",
      "--type",
      "webp",
      "-o",
      "named.png",
    ]);
    expect(contradiction.code).toBe(2);
    expect(contradiction.stderr).toContain("named.png names a png file but --type asks for webp");
    const unknown = await ws.run(["process", "real/p2.jpg", "--resize", "30x20", "-o", "named.gif"]);
    expect(unknown.code).toBe(2);
    expect(existsSync(join(ws.dir, "named.png")) || existsSync(join(ws.dir, "named.gif"))).toBe(false);
  });

  it("-o /dev/null processes and leaves /dev/null a device", async () => {
    const result = await ws.run(["process", "real/p2.jpg", "--resize", "30x20", "-o", "/dev/null"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ok real\/p2\.jpg -> \/dev\/null 30x20 /);
    expect((await lstat("/dev/null")).isCharacterDevice()).toBe(true);
  });

  it("a batch whose every image is refused leaves no empty output folder", async () => {
    await mkdir(join(ws.dir, "textonly"));
    await writeFile(join(ws.dir, "textonly", "t.jpg"), "not an image at all\n".repeat(10));
    const result = await ws.run(["process", "textonly", "--resize", "30x20", "-o", "empty-out/deeper", "--json"]);
    expect(result.code).toBe(1);
    expect(summaryOf(result.stdout)).toMatchObject({ total: 1, failed: 1, failures: [{ code: "E_IMAGE" }] });
    expect(existsSync(join(ws.dir, "empty-out"))).toBe(false);
  });
});

describe("on a terminal", () => {
  it("with a backend already running, the spinner never says it is starting one", async () => {
    await writeJpeg(join(ws.dir, "tty.jpg"), 300, 200);
    const command =
      `stty cols 100; ${JSON.stringify(process.execPath)} ` +
      `${JSON.stringify(cliPath)} process tty.jpg --resize 30x20 -o out-tty/`;
    const result = await ws.runCommand("script", ["-qec", command, "/dev/null"]);
    expect(result.code, result.stdout).toBe(0);
    const screen = result.stdout.replace(/\u001b\[[0-9;?]*[a-zA-Z]/g, "");
    expect(screen).toContain("1/1 images processed");
    expect(screen).not.toContain("starting a local backend");
  });
});

describe("a batch with nothing to send wakes no backend", () => {
  it("only empty and truncated files: every one reported, no backend started", async () => {
    const cold = await createWorkspace("aciimg-e2e-cold-");
    try {
      await mkdir(join(cold.dir, "broken"));
      await writeFile(join(cold.dir, "broken", "zero.jpg"), "");
      const whole = await readFile(join(ws.dir, "real", "p2.jpg"));
      await writeFile(join(cold.dir, "broken", "cut.jpg"), whole.subarray(0, 400));
      const result = await cold.run(["process", "broken", "--resize", "30x20", "-o", "out", "--json"]);
      expect(result.code).toBe(1);
      expect(summaryOf(result.stdout)).toMatchObject({ total: 2, failed: 2 });
      const status = await cold.run(["status", "--json"]);
      expect(JSON.parse(status.stdout)).toMatchObject({ state: "none" });
    } finally {
      await cold.cleanup();
    }
  });
});

describe("an interrupted batch says so and counts every input", () => {
  async function interrupted(
    extra: string[],
    ready: (chunk: string) => boolean,
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = ws.start([
      "process",
      "many",
      "--resize",
      "300x200",
      "-o",
      `out-int-${extra.join("")}`,
      "--concurrency",
      "1",
      ...extra,
    ]);
    let stdout = "";
    let stderr = "";
    const firstDone = new Promise<void>((resolve) =>
      child.stdout?.on("data", (d: Buffer) => {
        stdout += d.toString();
        if (ready(stdout)) resolve();
      }),
    );
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.once("close", resolve));
    await Promise.race([firstDone, closed]);
    child.kill("SIGINT");
    return { code: await closed, stdout, stderr };
  }

  beforeAll(async () => {
    await mkdir(join(ws.dir, "many"));
    for (let i = 0; i < 30; i++) await writeJpeg(join(ws.dir, "many", `m-${String(i).padStart(2, "0")}.jpg`), 900, 600);
  });

  it("--json: one line per input, cancelled counted, ok + failed + skipped + cancelled = total", async () => {
    const run = await interrupted(["--json"], (out) => out.includes('"status":"ok"'));
    expect(run.code).toBe(130);
    const summary = summaryOf(run.stdout);
    expect(summary.total).toBe(30);
    expect(summary.stopped).toBe("SIGINT");
    expect(summary.cancelled).toBeGreaterThan(0);
    expect(summary.ok + summary.failed + summary.skipped + summary.cancelled).toBe(30);
    const files = jsonLines(run.stdout).filter((line) => "input" in line);
    expect(new Set(files.map((line) => line.input)).size).toBe(30);
    expect(files.filter((line) => line.status === "ok")).toHaveLength(summary.ok);
    expect(await listFiles(join(ws.dir, "out-int---json"))).toHaveLength(summary.ok);
  });

  it(
    "a reader that closes stdout (`| head -1`) " +
      "stops the batch as Ctrl-C does: exit 130, one line on stderr, whole outputs only",
    async () => {
      const child = ws.start([
        "process",
        "many",
        "--resize",
        "300x200",
        "-o",
        "out-pipe",
        "--concurrency",
        "1",
        "--json",
      ]);
      let stderr = "";
      child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
      child.stdout?.once("data", () => child.stdout?.destroy());
      const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
      expect(code, stderr).toBe(130);
      const said = new RegExp(
        /^aciimg: stopped by EPIPE \(standard output closed\): (\d+) of 30 images processed,/.source +
          / (\d+) cancelled; outputs written are complete, nothing partial was left\n$/.source,
      ).exec(stderr);
      expect(said, stderr).not.toBeNull();
      const [processed, cancelled] = [Number(said?.[1]), Number(said?.[2])];
      expect(processed).toBeGreaterThan(0);
      expect(processed + cancelled).toBe(30);
      const written = await listFiles(join(ws.dir, "out-pipe"));
      expect(written).toHaveLength(processed);
      for (const name of written)
        expect(await sharp(join(ws.dir, "out-pipe", name)).metadata()).toMatchObject({ width: 300, height: 200 });
    },
  );

  it(
    "another command whose stdout is closed before it writes (`status --json | true`) " +
      "finishes quietly, no stack trace",
    async () => {
      const child = ws.start(["status", "--json"]);
      child.stdout?.destroy();
      let stderr = "";
      child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
      expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    },
  );

  it("text: the summary line says the run was stopped and how many were cancelled", async () => {
    const run = await interrupted([], (out) => out.startsWith("ok "));
    expect(run.code).toBe(130);
    const done = run.stdout.split("\n").filter((line) => line.startsWith("ok ")).length;
    expect(run.stderr).toMatch(
      new RegExp(`stopped by SIGINT: ${done}/30 images processed in .*, ${30 - done} cancelled \\(not written\\)`),
    );
  });
});

interface Reader {
  dir: string;
  uid: number;
  gid: number;
  argv: string[];
  env: Record<string, string>;
}

describe("folders that cannot be read", () => {
  /**
   * A folder of the user the CLI runs as, and how to run it: as root, nobody (whom permissions bind)
   * through a CLI nobody can read; as anyone else, this user.
   */
  async function asReader(): Promise<Reader | string> {
    const cli = isRoot ? await nobodysCli() : { argv: [process.execPath, cliPath] };
    if (typeof cli === "string") return cli;
    const [uid, gid] = isRoot ? [NOBODY, NOBODY] : [process.getuid?.() ?? 0, process.getgid?.() ?? 0];
    const dir = await mkdtemp(join(tmpdir(), "aciimg-e2e-reader-"));
    await chown(dir, uid, gid);
    return { dir, uid, gid, argv: cli.argv, env: isRoot ? nobodysEnv : {} };
  }

  // As nobody when root, whom permissions do not bind.
  it("an unreadable sub-folder is a failure of the batch, also through a glob", async (context) => {
    const who = await asReader();
    if (typeof who === "string") return context.skip(who);
    const env = { ...who.env, ACIIMG_STATE: join(who.dir, "state", "state.json") };
    const as = { ...(isRoot ? { uid: who.uid, gid: who.gid } : {}), cwd: who.dir, env };
    const run = (args: string[]) => ws.runCommand(who.argv[0] as string, [...who.argv.slice(1), ...args], as);
    try {
      const d = join(who.dir, "d");
      await mkdir(join(d, "x"), { recursive: true });
      await writeJpeg(join(d, "ok.jpg"), 120, 80);
      await writeJpeg(join(d, "x", "hidden.jpg"), 120, 80);
      for (const path of [who.dir, d, join(d, "ok.jpg"), join(d, "x"), join(d, "x", "hidden.jpg")])
        await chown(path, who.uid, who.gid);
      await chmod(join(d, "x"), 0o000);
      for (const [input, done] of [
        ["d", { ok: 1, upToDate: 0 }],
        // The same output, made by the first run: up to date (the incremental record).
        ["d/**/*.jpg", { ok: 0, upToDate: 1 }],
      ] as const) {
        const result = await run(["process", input, "--resize", "20x20", "-o", "out", "--json"]);
        expect(result.code, result.stderr).toBe(1);
        const summary = summaryOf(result.stdout);
        expect(summary).toMatchObject({ total: 2, failed: 1, ...done });
        expect(summary.failures).toEqual([
          {
            input: "d/x",
            code: "E_BAD_INPUT",
            error: "cannot search d/x: permission denied; images inside it were not processed",
          },
        ]);
      }
      expect((await stat(join(who.dir, "out", "ok.jpg"))).isFile()).toBe(true);
    } finally {
      await run(["down"]).catch(() => undefined);
      await chmod(join(who.dir, "d", "x"), 0o755).catch(() => undefined);
      await rm(who.dir, { recursive: true, force: true });
    }
  });
});
