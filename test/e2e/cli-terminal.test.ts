/**
 * Ctrl-C at a real terminal: the CLI runs in a pseudo-terminal (util-linux `script`, as the other
 * terminal tests do) and the test types the ^C byte into it, so the terminal's own line
 * discipline decides what the byte does, as at a keyboard. The backend is a stand-in imaginary on
 * loopback that answers the first image and holds the rest, so the batch is still running when ^C
 * arrives, whatever the machine's load; the hold ends on its own after a bound, so a ^C that is
 * swallowed lets the batch run to the end (exit 0) and the test fails on that, not on a timeout.
 */
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdir } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { cliPath, createWorkspace, writeJpeg, type Workspace, recordStandIn, outputsIn } from "./cli-harness.js";

const apiKey = "t".repeat(32);
const images = 6;
/** The hold ends this long after it began, so a batch that ignored ^C ends (exit 0) and the assertions say so. */
const holdBoundMs = 15_000;
const scriptMissing = spawnSync("script", ["--version"]).error
  ? "util-linux `script` is not installed (Debian: bsdutils)"
  : undefined;

let ws: Workspace;
let server: ReturnType<typeof createServer>;
let answered = 0;
/** Opens once, `holdBoundMs` after the first image was held: from then on every image is answered. */
let holdEnds: Promise<void> | undefined;

/** The first image is answered at once; later ones wait until the client gives up or the hold ends. */
async function answerResize(req: IncomingMessage, res: ServerResponse, thumbnail: Buffer): Promise<void> {
  for await (const _chunk of req) {
    // read the upload whole, as imaginary does
  }
  if (answered > 0) {
    holdEnds ??= new Promise<void>((resolve) => setTimeout(resolve, holdBoundMs));
    await Promise.race([holdEnds, once(res, "close")]);
  }
  if (res.destroyed) return;
  answered += 1;
  const size = { "Image-Width": "30", "Image-Height": "20" };
  res.writeHead(200, { "Content-Type": "image/jpeg", "Content-Length": thumbnail.length, ...size });
  res.end(thumbnail);
}

beforeAll(async () => {
  const thumbnail = await sharp({ create: { width: 30, height: 20, channels: 3, background: "#369" } })
    .jpeg()
    .toBuffer();
  const json = (res: ServerResponse, status: number, body: unknown): void =>
    void res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
  server = createServer((req, res) => {
    if (req.headers["api-key"] !== apiKey) {
      json(res, 401, { message: "Invalid or missing API key", status: 401 });
    } else if (req.method === "GET" && req.url === "/health") {
      json(res, 200, { uptime: 1, cpus: 1 });
    } else if (req.method === "POST" && req.url?.startsWith("/resize?")) {
      void answerResize(req, res, thumbnail);
    } else {
      json(res, 404, { message: "Not found", status: 404 });
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;

  ws = await createWorkspace("aciimg-e2e-terminal-");
  // The stand-in recorded as the running backend, under this test's pid: `down` finds no backend
  // process of ours to stop and only forgets the record (as in cli-concurrency.test.ts).
  await recordStandIn(ws, port, apiKey);
  await mkdir(join(ws.dir, "in"));
  for (let i = 0; i < images; i++) await writeJpeg(join(ws.dir, "in", `p${i}.jpg`), 64, 48);
});
afterAll(async () => {
  await ws?.cleanup();
  server?.close();
});

describe("Ctrl-C at a terminal", () => {
  it.skipIf(scriptMissing)(
    "stops a batch as SIGINT does: summary, exit 130, whole outputs, mode kept",
    async () => {
      const cli = `${JSON.stringify(process.execPath)} ${JSON.stringify(cliPath)}`;
      // `trap : INT`: the shell outlives the ^C (which the terminal sends to the whole foreground
      // group) to report the exit status and the terminal's mode; the CLI gets the default handling.
      const batch = `${cli} process in --resize 30x20 -o out --concurrency 1`;
      const command = `trap : INT; stty cols 100; ${batch}; echo "exit $?"; stty -a`;
      // A person at a terminal: without CI in the environment, which turns ora's progress line into
      // plain lines (it drew no count after 0/N, so the ^C was never typed in a CI run).
      const { CI: _ci, ...env } = ws.env;
      const child = spawn("script", ["-qec", command, "/dev/null"], { cwd: ws.dir, env, stdio: "pipe" });
      let screen = "";
      let typed = false;
      const closed = new Promise<number | null>((resolve) => child.once("close", resolve));
      child.stdout.on("data", (chunk: Buffer) => {
        screen += chunk.toString("utf8");
        // The progress line counts the first image done: the batch runs, the others are held.
        if (!typed && /\b1\/6 · /.test(screen)) {
          typed = true;
          child.stdin.write("\x03");
        }
      });
      // Ended here if the test fails first: closing the pseudo-terminal hangs up the CLI in it,
      // which would otherwise run on after the stand-in closes (and start a real backend).
      onTestFinished(() => void (child.exitCode === null && child.kill("SIGKILL")));
      expect(await closed).toBe(0);
      const text = screen.replace(/\u001b\[[0-9;?]*[a-zA-Z]/g, "");
      expect(typed, text).toBe(true);
      expect(text).toContain(`stopped by SIGINT: 1/${images} images processed`);
      expect(text).toContain(`${images - 1} cancelled (not written)`);
      expect(text).toContain(`aciimg: stopped by SIGINT: 1 of ${images} images processed, ${images - 1} cancelled`);
      expect(text).toMatch(/exit 130\r?\n/);
      // The terminal still turns ^C into a signal after the run (never left in raw mode).
      expect(text.slice(text.indexOf("exit 130"))).toMatch(/(?<![-\w])isig\b/);
      const written = await outputsIn(join(ws.dir, "out"));
      expect(written).toHaveLength(1);
      expect(await sharp(join(ws.dir, "out", written[0] as string)).metadata()).toMatchObject({
        width: 30,
        height: 20,
      });
    },
    60_000,
  );
});
