/**
 * One batch at a time per output folder (docs/cli.md "aciimg process"). The backend is a stand-in
 * imaginary on loopback that holds the second request it gets until the test lets it go, so a
 * first batch is held mid-way (one output written, one in flight) for as long as the test needs,
 * without timing anything.
 */
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, jsonLines, outputsIn, writeJpeg, type Workspace, recordStandIn } from "./cli-harness.js";

const apiKey = "k".repeat(32);
const lockName = ".aciimg.lock";
/** A held request is let go after this if a test failed before letting it go itself. */
const holdBoundMs = 60_000;

let ws: Workspace;
let server: ReturnType<typeof createServer>;
let requests = 0;
/** The request number to hold (1-based), or 0 for none. */
let holdNumber = 0;
let letGo: (() => void) | undefined;
let heldArrived: Promise<void> = Promise.resolve();
let onHeld: () => void = () => {};

/** Holds the next batch's `n`th request from now; resolves `heldArrived` when it comes. */
function holdRequest(n: number): void {
  holdNumber = requests + n;
  heldArrived = new Promise((resolve) => (onHeld = resolve));
}

function release(): void {
  holdNumber = 0;
  letGo?.();
  letGo = undefined;
}

async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const number = ++requests;
  for await (const _chunk of req) {
    // read the upload whole, as imaginary does
  }
  if (number === holdNumber) {
    const bound = setTimeout(release, holdBoundMs);
    await new Promise<void>((resolve) => {
      letGo = resolve;
      onHeld();
    });
    clearTimeout(bound);
  }
  const width = Number(new URL(req.url ?? "/", "http://x").searchParams.get("width")) || 30;
  const image = await sharp({ create: { width, height: 20, channels: 3, background: "#369" } })
    .jpeg()
    .toBuffer();
  if (res.destroyed) return;
  const size = { "Image-Width": width, "Image-Height": 20 };
  const headers = { "Content-Type": "image/jpeg", "Content-Length": image.length, ...size };
  res.writeHead(200, headers).end(image);
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
}

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.headers["api-key"] !== apiKey) sendJson(res, 401, { message: "Invalid or missing API key", status: 401 });
    else if (req.method === "GET" && req.url === "/health") sendJson(res, 200, { uptime: 1, cpus: 1 });
    else if (req.method === "POST" && req.url?.startsWith("/resize?")) void answer(req, res);
    else sendJson(res, 404, { message: "Not found", status: 404 });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  ws = await createWorkspace("aciimg-e2e-outlock-");
  // A state that records the stand-in as the running backend (this test's pid: `down` stops no process).
  await recordStandIn(ws, port, apiKey);
  await mkdir(join(ws.dir, "in"));
  for (let i = 0; i < 4; i++) await writeJpeg(join(ws.dir, "in", `p${i}.jpg`), 64, 48);
});
afterEach(release);
afterAll(async () => {
  await ws.cleanup();
  server.close();
});

/** Starts a batch into `out` held at its second image; resolves once that image is held, with the running child. */
async function startHeld(out: string, width: number) {
  holdRequest(2);
  const child = ws.start(["process", "in", "--resize", `${width}x20`, "-o", out, "--concurrency", "1", "--json"]);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<number | null>((resolve) => child.once("close", resolve));
  const early = await Promise.race([heldArrived.then(() => undefined), closed.then((code) => ({ code }))]);
  if (early) throw new Error(`the first batch ended before it was held (exit ${early.code}): ${stderr}`);
  return { child, closed, output: () => ({ stdout, stderr }) };
}

/** Field 22 of /proc/<pid>/stat: the process's start time, which the lock records with its pid. */
function startTimeOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] as string;
}

/** The width of every image in a folder of the workspace, by name. */
async function widthsIn(folder: string): Promise<number[]> {
  const names = await outputsIn(join(ws.dir, folder));
  return Promise.all(names.map(async (name) => (await sharp(join(ws.dir, folder, name)).metadata()).width as number));
}

async function plantLock(folder: string, holder: { pid: number; startTime?: string }): Promise<string> {
  await mkdir(folder, { recursive: true });
  const path = join(folder, lockName);
  const lockedAt = new Date().toISOString();
  const command = "aciimg process x -o y";
  const content = { ...holder, host: hostname(), uid: process.getuid?.(), lockedAt, command, token: "t".repeat(24) };
  await writeFile(path, JSON.stringify(content));
  return path;
}

describe("aciimg process: one batch at a time per output folder", () => {
  it("a second batch into a folder in use is refused (exit 75) naming the first; a third runs after it", async () => {
    const first = await startHeld("out", 30);
    const pid = first.child.pid as number;
    expect(existsSync(join(ws.dir, "out", lockName))).toBe(true);

    const second = await ws.run(["process", "in", "--resize", "40x20", "-o", "out", "--json"]);
    expect(second.code, second.stderr).toBe(75);
    const said = `out is being written by another aciimg process: pid ${pid} (aciimg process in --resize 30x20 -o out`;
    expect(second.stderr).toContain(said);
    const error = jsonLines(second.stdout).at(-1)?.error as { code: string; detail: { pid: number } };
    expect(error).toMatchObject({ code: "E_OUTPUT_BUSY", detail: { pid } });

    // A run reading the folder being written takes only its images: not the lock file.
    const reader = await ws.run(["process", "out", "--resize", "20x20", "-o", "from-out", "--json"]);
    expect(reader.code, reader.stderr).toBe(0);
    expect(jsonLines(reader.stdout).at(-1)).toMatchObject({ summary: { total: 1, ok: 1 } });

    release();
    expect(await first.closed, first.output().stderr).toBe(0);
    expect(jsonLines(first.output().stdout).at(-1)).toMatchObject({ summary: { total: 4, ok: 4 } });
    expect(await widthsIn("out")).toEqual([30, 30, 30, 30]);
    expect(await outputsIn(join(ws.dir, "out"))).toEqual(["p0.jpg", "p1.jpg", "p2.jpg", "p3.jpg"]);

    const third = await ws.run(["process", "in", "--resize", "40x20", "-o", "out", "--json"]);
    expect(third.code, third.stderr).toBe(0);
    expect(await widthsIn("out")).toEqual([40, 40, 40, 40]);
  });

  it("SIGINT, an error exit and a normal exit leave no lock file behind", async () => {
    const held = await startHeld("out-int", 30);
    held.child.kill("SIGINT");
    expect(await held.closed).toBe(130);
    expect(await outputsIn(join(ws.dir, "out-int"))).toEqual(["p0.jpg"]);

    await mkdir(join(ws.dir, "broken"));
    await writeFile(join(ws.dir, "broken", "zero.jpg"), "");
    await writeFile(join(ws.dir, "broken", "one.jpg"), "");
    const failing = await ws.run(["process", "broken", "--resize", "30x20", "-o", "out-int", "--json"]);
    expect(failing.code).toBe(1);
    expect(await outputsIn(join(ws.dir, "out-int"))).toEqual(["p0.jpg"]);
  });

  it("a lock left by a process that has ended is taken over, and removed after", async () => {
    const gone = spawn(process.execPath, ["-e", ""]);
    await once(gone, "exit");
    const lock = await plantLock(join(ws.dir, "out-stale"), { pid: gone.pid as number });
    const result = await ws.run(["process", "in", "--resize", "30x20", "-o", "out-stale", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(existsSync(lock)).toBe(false);
    expect(await outputsIn(join(ws.dir, "out-stale"))).toHaveLength(4);
  });

  it("what another user plants under the lock's name costs nothing: a FIFO, a link to /dev/zero, escapes", async () => {
    // A FIFO once hung the run (the lock was read with a blocking read), and a link to /dev/zero was
    // read until memory ran out; both are now removed as damaged locks, the link's target untouched.
    await mkdir(join(ws.dir, "out-fifo"));
    execFileSync("mkfifo", [join(ws.dir, "out-fifo", lockName)]);
    const fifo = await ws.run(["process", "in", "--resize", "30x20", "-o", "out-fifo"]);
    expect(fifo.code, fifo.stderr).toBe(0);
    expect(await outputsIn(join(ws.dir, "out-fifo"))).toEqual(["p0.jpg", "p1.jpg", "p2.jpg", "p3.jpg"]);

    await mkdir(join(ws.dir, "out-zero"));
    await symlink("/dev/zero", join(ws.dir, "out-zero", lockName));
    const zero = await ws.run(["process", "in", "--resize", "30x20", "-o", "out-zero"]);
    expect(zero.code, zero.stderr).toBe(0);
    expect(existsSync(join(ws.dir, "out-zero", lockName))).toBe(false);
    expect(existsSync("/dev/zero")).toBe(true);

    // A live holder's lock whose command carries a terminal escape: named, the escape shown as "?".
    const sleeper = spawn("sleep", ["600"]);
    try {
      const path = await plantLock(join(ws.dir, "out-escape"), { pid: sleeper.pid as number });
      const planted = JSON.parse(readFileSync(path, "utf8"));
      await writeFile(path, JSON.stringify({ ...planted, startTime: undefined, command: "x\u001b]0;owned\u0007y" }));
      const refused = await ws.run(["process", "in", "--resize", "30x20", "-o", "out-escape"]);
      expect(refused.code).toBe(75);
      expect(refused.stderr).toContain("(x?]0;owned?y)");
      expect(refused.stderr).not.toContain("\u001b");
    } finally {
      sleeper.kill();
    }
  });

  it("a pid reused by a process started later does not hold the lock; the process that took it does", async () => {
    const sleeper = spawn("sleep", ["600"]);
    try {
      const pid = sleeper.pid as number;
      const earlier = String(Number(startTimeOf(pid)) - 1);
      const reused = await plantLock(join(ws.dir, "out-reused"), { pid, startTime: earlier });
      const taken = await ws.run(["process", "in", "--resize", "30x20", "-o", "out-reused"]);
      expect(taken.code, taken.stderr).toBe(0);
      expect(existsSync(reused)).toBe(false);

      const live = await plantLock(join(ws.dir, "out-live"), { pid, startTime: startTimeOf(pid) });
      const refused = await ws.run(["process", "in", "--resize", "30x20", "-o", "out-live"]);
      expect(refused.code).toBe(75);
      expect(refused.stderr).toContain(`pid ${pid} (aciimg process x -o y)`);
      expect(existsSync(live)).toBe(true);
      expect(await outputsIn(join(ws.dir, "out-live"))).toEqual([lockName]);
    } finally {
      sleeper.kill();
    }
  });
});
