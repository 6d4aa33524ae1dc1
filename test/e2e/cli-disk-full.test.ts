/**
 * An output disk that takes no more writes stops a batch at the first refusal (docs/cli.md "aciimg
 * process", exit 74). The errors come from the kernel, not from a mock:
 * - /dev/full refuses every write with ENOSPC, for any user;
 * - a small tmpfs and a read-only bind mount in a mount namespace of their own. Any user may make
 *   one where unprivileged user namespaces are allowed (`unshare -Urm`); the CLI, outside it,
 *   writes into it through /proc/<pid>/root of the process that holds it. As root the CLI also
 *   runs inside a namespace (`unshare -m`), on plain paths.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cliPath,
  createWorkspace,
  jsonLines,
  writeJpeg,
  type Workspace,
  outputsIn,
  recordFile,
} from "./cli-harness.js";

const images = 10;
/** Room for the lock file and one output (each ~65 KB of noise PNG), not two. */
const tmpfsSize = "100k";

let ws: Workspace;

beforeAll(async () => {
  ws = await createWorkspace("aciimg-e2e-diskfull-");
  await mkdir(join(ws.dir, "in"));
  // Noise does not compress: each 150x150 PNG output is about 65 KB.
  for (let i = 0; i < images; i++) {
    const raw = { width: 200, height: 200, channels: 3 } as const;
    await sharp(randomBytes(200 * 200 * 3), { raw })
      .png()
      .toFile(join(ws.dir, "in", `p${i}.png`));
  }
  await writeJpeg(join(ws.dir, "one.jpg"), 64, 48);
});
afterAll(async () => {
  await ws.cleanup();
});

type Summary = { total: number; ok: number; failed: number; notAttempted: number; stopped: string | null };
type Run = { code: number | null; stdout: string; stderr: string };

/** The names of the outputs the --json lines say were written. */
function writtenBy(lines: Array<Record<string, unknown>>): string[] {
  const ok = lines.filter((line) => line.status === "ok");
  return ok.map((line) => (line.output as string).split("/").at(-1) as string).sort();
}

/** What every full-disk batch shows: one failure said once, the rest not attempted, whole outputs only, exit 74. */
async function expectStoppedBatch(result: Run, folder: string, errno: string): Promise<void> {
  expect(result.code, result.stderr).toBe(74);
  const lines = jsonLines(result.stdout);
  const summary = lines.find((line) => "summary" in line)?.summary as Summary;
  expect(summary).toMatchObject({ total: images, failed: 1, cancelled: 0, stopped: errno });
  expect(summary.ok + summary.failed + summary.notAttempted).toBe(images);
  expect(summary.notAttempted).toBeGreaterThan(0);
  const failed = lines.filter((line) => line.status === "failed");
  expect(failed).toHaveLength(1);
  expect(failed[0]).toMatchObject({ code: "E_DISK" });
  expect(lines.filter((line) => line.status === "not-attempted")).toHaveLength(summary.notAttempted);
  expect(lines.at(-1)).toMatchObject({ error: { code: "E_DISK", detail: { errno } } });
  const written = await outputsIn(folder);
  expect(written).toEqual(writtenBy(lines));
  for (const name of written) {
    expect(await sharp(join(folder, name)).metadata()).toMatchObject({ width: 150, height: 150 });
  }
}

describe("aciimg process: a full output disk, for any user (/dev/full)", () => {
  it("-o /dev/full: the write fails as E_DISK naming ENOSPC, once, exit 74", async () => {
    const result = await ws.run(["process", "one.jpg", "--resize", "30x20", "-o", "/dev/full"]);
    expect(result.code, result.stderr).toBe(74);
    const said = "cannot write /dev/full: no space left on device (ENOSPC)";
    expect(result.stderr.split(said)).toHaveLength(2);
    const stop = "aciimg: disk full (ENOSPC) writing to /dev/full: 0 written, 0 not attempted, 1 failed;";
    expect(result.stderr).toContain(stop);
  });

  it("stdout redirected to /dev/full: one line naming ENOSPC, exit 74, no stack", async () => {
    const command = `"$1" "$2" process - --resize 30x20 < one.jpg > /dev/full`;
    const result = await ws.runCommand("sh", ["-c", command, "sh", process.execPath, cliPath]);
    const said = "aciimg: cannot write standard output: no space left on device (ENOSPC)\n";
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 74, stderr: said });
  });
});

/** A process holding a mount namespace of its own (its tmpfs, its read-only mount), or why there is none here. */
async function privateMounts(full: string, readOnly: string): Promise<{ holder: ChildProcess; root: string } | string> {
  await mkdir(full, { recursive: true });
  await mkdir(readOnly, { recursive: true });
  const script =
    `mount -t tmpfs -o size=${tmpfsSize} tmpfs "$1" && mount --bind "$2" "$2" && ` +
    `mount -o remount,bind,ro "$2" && echo ready && exec cat`;
  const holder = spawn("unshare", ["-Urm", "sh", "-c", script, "sh", full, readOnly], { stdio: "pipe" });
  let output = "";
  holder.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  holder.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const ready = new Promise<boolean>((resolve) => {
    holder.stdout?.on("data", () => output.includes("ready") && resolve(true));
    holder.once("close", () => resolve(false));
    holder.once("error", () => resolve(false));
  });
  if (!(await ready)) {
    return `unprivileged user and mount namespaces are not available here (unshare -Urm: ${output.trim() || "failed"})`;
  }
  return { holder, root: `/proc/${holder.pid}/root` };
}

describe("aciimg process: a full or read-only output disk, for any user (a tmpfs in a user namespace)", () => {
  let mounts: Awaited<ReturnType<typeof privateMounts>>;
  beforeAll(async () => {
    mounts = await privateMounts(join(ws.dir, "small"), join(ws.dir, "frozen"));
  });
  afterAll(async () => {
    if (typeof mounts !== "string") {
      mounts.holder.stdin?.end();
      if (mounts.holder.exitCode === null) await once(mounts.holder, "close");
    }
  });

  it("a full disk stops the batch at the first failure: said once, the rest not attempted, exit 74", async (ctx) => {
    if (typeof mounts === "string") return ctx.skip(mounts);
    const folder = `${mounts.root}${join(ws.dir, "small", "out")}`;
    const result = await ws.run(["process", "in", "--resize", "150x150", "-o", folder, "--json"]);
    await expectStoppedBatch(result, folder, "ENOSPC");
    expect(existsSync(join(folder, ".aciimg.lock"))).toBe(false);

    const text = await ws.run(["process", "in", "--resize", "150x150", "-o", `${folder}2`]);
    expect(text.code).toBe(74);
    expect(text.stderr.match(/^failed /gm)).toHaveLength(1);
    expect(text.stderr.match(/no space left on device \(ENOSPC\)/g)).toHaveLength(1);
    const said = /^aciimg: disk full \(ENOSPC\) writing to .*out2: 0 written, \d+ not attempted, 1 failed; /m;
    expect(text.stderr).toMatch(said);
  });

  it("a read-only file system is named as such (EROFS), not as a missing folder, exit 74", async (context) => {
    if (typeof mounts === "string") return context.skip(mounts);
    const folder = `${mounts.root}${join(ws.dir, "frozen", "out")}`;
    const result = await ws.run(["process", "in", "--resize", "150x150", "-o", folder]);
    expect(result.code, result.stderr).toBe(74);
    const said = `aciimg: cannot write to output directory ${folder}: read-only file system (EROFS)\n`;
    expect(result.stderr).toBe(said);
  });
});

describe("aciimg process: a full disk, as root (a tmpfs mounted in `unshare -m`)", () => {
  const isRoot = process.getuid?.() === 0;
  const canUnshare = isRoot && spawnSync("unshare", ["-m", "true"]).status === 0;

  it("the batch run inside the namespace stops at the first failure, exit 74", async (context) => {
    const why = isRoot
      ? "unshare -m does not work here"
      : "mounting a tmpfs needs root (the user-namespace test covers others)";
    if (!canUnshare) return context.skip(why);
    const mountPoint = join(ws.dir, "small-root");
    await mkdir(mountPoint);
    const folder = join(mountPoint, "out");
    // The CLI lists what it wrote before the namespace (and its tmpfs) goes away.
    const script =
      `mount -t tmpfs -o size=${tmpfsSize} tmpfs "$1" && ` +
      `"$2" "$3" process in --resize 150x150 -o "$4" --json; code=$?; ls -A "$4" >&2; exit $code`;
    const args = ["-m", "sh", "-c", script, "sh", mountPoint, process.execPath, cliPath, folder];
    const result = await ws.runCommand("unshare", args);
    expect(result.code, result.stderr).toBe(74);
    const lines = jsonLines(result.stdout);
    const summary = lines.find((line) => "summary" in line)?.summary as Summary;
    expect(summary).toMatchObject({ total: images, failed: 1, stopped: "ENOSPC" });
    expect(summary.ok + summary.failed + summary.notAttempted).toBe(images);
    expect(summary.notAttempted).toBeGreaterThan(0);
    const listed = result.stderr
      .trim()
      .split("\n")
      .filter((name) => /\.png$|^\.aciimg/.test(name) && name !== recordFile);
    expect(listed.sort()).toEqual(writtenBy(lines));
  });
});
