/**
 * `aciimg process` with inputs or outputs in folders another user can write (issue 22 §3, §4).
 * The other user is `nobody`, acting through `runuser` (so the tests need root, and skip saying
 * why without it). A swap "between the check and the use" is driven, not hoped for: the backend's
 * intake slots are held by uploads that never finish, so the CLI's request waits in the backend,
 * already checked; nobody swaps the file; then the slots are let go.
 */
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createWorkspace,
  jsonLines,
  until,
  writeJpeg,
  type RunResult,
  type Workspace,
  outputsIn,
} from "./cli-harness.js";

const nobody = 65534;
let ws: Workspace;
/** Why these tests cannot run here, or undefined. */
let cannotRun: string | undefined;
/** A folder nobody owns (a shared drop folder), and a private one of ours (0700) with a photo nobody must never see. */
let shared: string;
let secretJpeg: string;

beforeAll(async () => {
  ws = await createWorkspace("aciimg-e2e-shared-folders-");
  if (process.getuid?.() !== 0) {
    cannotRun = "needs root, to act as the user nobody with runuser";
    return;
  }
  const probe = await ws
    .runCommand("runuser", ["-u", "nobody", "--", "true"])
    .catch((error: Error) => ({ code: -1, stderr: error.message }));
  if (probe.code !== 0) {
    cannotRun = `runuser -u nobody cannot run here: ${probe.stderr.trim()}`;
    return;
  }
  shared = await mkdtemp(join(tmpdir(), "aciimg-e2e-nobodys-"));
  await chown(shared, nobody, nobody);
  await mkdir(join(ws.dir, "private"), { mode: 0o700 });
  secretJpeg = join(ws.dir, "private", "secret.jpg");
  await writeJpeg(secretJpeg, 800, 200);
  const up = await ws.run(["up"]);
  expect(up.code, up.stderr).toBe(0);
});
afterAll(async () => {
  await ws.cleanup();
  if (shared) await rm(shared, { recursive: true, force: true });
});

/** Runs a command as nobody; fails the test when it fails. */
async function asNobody(program: string, args: string[]): Promise<void> {
  const result = await ws.runCommand("runuser", ["-u", "nobody", "--", program, ...args]);
  expect(result.code, result.stderr).toBe(0);
}

/** A photo in nobody's folder, theirs. */
async function theirPhoto(name: string): Promise<string> {
  const path = join(shared, name);
  await writeJpeg(path, 600, 400);
  await chown(path, nobody, nobody);
  return path;
}

/**
 * Holds every intake slot of the workspace's backend with uploads that never finish, and says how
 * many requests it has in flight (its /health `goroutines`).
 */
async function holdBackend(): Promise<{ inFlight(): Promise<number>; release(): void }> {
  const [record] = Object.values((await ws.state()).backends);
  if (!record) throw new Error("no backend in the state");
  const socketPath = record.endpoint.replace(/^unix:/, "");
  const inFlight = () =>
    new Promise<number>((resolve, reject) => {
      const req = httpRequest({ socketPath, path: "/health", headers: { "API-Key": record.apiKey } }, (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString()));
        res.on("end", () => resolve((JSON.parse(text) as { goroutines: number }).goroutines));
      });
      req.on("error", reject);
      req.end();
    });
  await until(async () => (await inFlight()) === 0, "an idle backend");
  const stalled: Socket[] = Array.from({ length: 16 }, () => {
    const socket = connect(socketPath);
    socket.on("error", () => undefined);
    const head = `POST /resize?width=10 HTTP/1.1\r\nHost: backend\r\nAPI-Key: ${record.apiKey}`;
    socket.write(`${head}\r\nContent-Length: 100000\r\n\r\n\xff\xd8`);
    return socket;
  });
  await until(async () => (await inFlight()) === 16, "16 stalled uploads in the backend");
  return { inFlight, release: () => stalled.forEach((socket) => socket.destroy()) };
}

/** Starts the CLI with the backend held; runs `swap` once its request (the `waiting`-th) waits there; lets go. */
async function swapWhileWaiting(args: string[], swap: () => Promise<void>, waiting = 17): Promise<RunResult> {
  const held = await holdBackend();
  try {
    const cli = ws.start(args);
    let stdout = "";
    let stderr = "";
    cli.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    cli.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => cli.on("close", resolve));
    await until(async () => (await held.inFlight()) === waiting, "the CLI's request waiting in the backend");
    await swap();
    held.release();
    const code = await exited;
    return { code, signal: null, stdout, stderr, stdoutBytes: Buffer.from(stdout) };
  } finally {
    held.release();
  }
}

function summaryOf(stdout: string): Record<string, unknown> {
  return (jsonLines(stdout).at(-1) as { summary: Record<string, unknown> }).summary;
}

describe("outputs written into folders another user can write (issue 22 §3)", () => {
  // nobody's pipe, swapped for a link to a file of ours while the image is processed.
  it("a pipe given as -o and swapped for a link is replaced; the file it led to is untouched", async (context) => {
    if (cannotRun) return context.skip(cannotRun);
    const notes = join(ws.dir, "private", "notes.txt");
    await writeFile(notes, "my notes");
    await writeJpeg(join(ws.dir, "in.jpg"), 400, 300);
    const pipe = join(shared, "out.jpg");
    await asNobody("mkfifo", [pipe]);
    const args = ["process", "in.jpg", "--width", "100", "-o", pipe, "--json"];
    const run = await swapWhileWaiting(args, () => asNobody("ln", ["-sfn", notes, pipe]));
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(await readFile(notes, "utf8")).toBe("my notes");
    expect((await lstat(pipe)).isFile()).toBe(true);
    expect(await sharp(pipe).metadata()).toMatchObject({ width: 100, height: 75, format: "jpeg" });
  });

  // The link is nobody's, in a sticky folder others can write; nothing must reach where it leads.
  it("-o through another user's link in a sticky folder is refused, naming the link and its owner", async (context) => {
    if (cannotRun) return context.skip(cannotRun);
    const sticky = await mkdtemp(join(tmpdir(), "aciimg-e2e-sticky-"));
    try {
      await chmod(sticky, 0o1777);
      const mine = join(ws.dir, "private", "thumbs");
      await mkdir(mine);
      await writeJpeg(join(ws.dir, "in.jpg"), 400, 300);
      await asNobody("ln", ["-s", mine, join(sticky, "out")]);
      // The folder named, one below it, and a file in it: each is the folder written to.
      const link = join(sticky, "out");
      const deeper = join(link, "deeper");
      const outputs = [
        [`${link}/`, link],
        [`${deeper}/`, deeper],
        [join(link, "in.jpg"), link],
      ] as const;
      for (const [output, folder] of outputs) {
        const run = await ws.run(["process", "in.jpg", "--width", "100", "-o", output]);
        expect(run.code, output).toBe(1);
        const why = `${link} is a symbolic link owned by nobody (uid ${nobody}) in ${sticky}, a sticky folder others`;
        expect(run.stderr).toContain(`refusing to write to ${folder}: ${why}`);
      }
      expect(await readdir(mine)).toEqual([]);
      // A link of one's own there is followed, as the kernel's rule does.
      await rm(link);
      await symlink(mine, link);
      const run = await ws.run(["process", "in.jpg", "--width", "100", "-o", `${link}/`]);
      expect(run.code, run.stderr).toBe(0);
      expect(await outputsIn(mine)).toEqual(["in.jpg"]);
    } finally {
      await rm(sticky, { recursive: true, force: true });
    }
  });
});

describe("inputs in folders another user can write (issue 22 §4)", () => {
  const changed = (input: string) => expect.stringMatching(new RegExp(`^${escaped(input)} changed during the batch`));
  const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

  // Swapped for a link to a private photo while its request waits in the backend.
  it("read by the backend itself: refused as changed, and the private photo is never rendered", async (context) => {
    if (cannotRun) return context.skip(cannotRun);
    const drop = await theirPhoto("drop.jpg");
    const args = ["process", drop, "--width", "100", "-o", "out-read/", "--json"];
    const run = await swapWhileWaiting(args, () => asNobody("ln", ["-sfn", secretJpeg, drop]));
    expect(run.code, run.stderr).toBe(1);
    const failures = [{ input: drop, code: "E_BAD_INPUT", error: changed(drop) }];
    expect(summaryOf(run.stdout)).toMatchObject({ total: 1, ok: 0, failed: 1, failures });
    await expect(lstat(join(ws.dir, "out-read", "drop.jpg"))).rejects.toMatchObject({ code: "ENOENT" });
    const logs = await ws.run(["logs", "--tail", "1000"]);
    const refused = new RegExp(
      /"GET \/resize\?width=100&type=jpeg&stripmeta=true/.source +
        /&background=255%2C255%2C255&failon=warning&file=[^"]*drop\.jpg HTTP\/1\.1" 412 /.source,
    );
    const lines = logs.stdout.split("\n").filter((line) => line.includes("drop.jpg"));
    expect(lines).toEqual([expect.stringMatching(refused)]);
  });

  // Swapped for a link after the batch was planned, to a backend without the file source.
  it("uploaded: refused as changed, and the private photo is not uploaded", async (context) => {
    if (cannotRun) return context.skip(cannotRun);
    // The record no longer says the backend reads files: every image is uploaded (the file's last test: it stays so).
    type State = { backends: Record<string, Record<string, unknown>> };
    const state = JSON.parse(await readFile(ws.statePath, "utf8")) as State;
    for (const backend of Object.values(state.backends)) delete backend.fileRoot;
    await writeFile(ws.statePath, JSON.stringify(state));
    await writeJpeg(join(ws.dir, "first.jpg"), 400, 300);
    const drop = await theirPhoto("later.jpg");
    // One at a time: the first image's upload waits in the backend while nobody swaps the second.
    const args = ["process", "first.jpg", drop, "--width", "100", "--concurrency", "1", "-o", "out-upload/", "--json"];
    const run = await swapWhileWaiting(args, () => asNobody("ln", ["-sfn", secretJpeg, drop]));
    expect(run.code, run.stderr).toBe(1);
    const failures = [{ input: drop, code: "E_BAD_INPUT", error: changed(drop) }];
    expect(summaryOf(run.stdout)).toMatchObject({ total: 2, ok: 1, failed: 1, failures });
    expect(await outputsIn(join(ws.dir, "out-upload"))).toEqual(["first.jpg"]);
  });
});
