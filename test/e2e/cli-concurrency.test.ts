/**
 * `aciimg process` keeps two images per backend CPU in flight by default. The backend here is a
 * stand-in imaginary on loopback that says it has 3 CPUs (imaginary's /health `cpus`) and holds the
 * first requests until six are in flight at once, so the count is observed, not timed.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, jsonLines, writeJpeg, type Workspace, recordStandIn } from "./cli-harness.js";

const apiKey = "k".repeat(32);
const cpus = 3;
const expectedInFlight = 2 * cpus;
/**
 * If the CLI never reaches the expected count, the held requests
 * are answered after this, and the test fails on the count.
 */
const gateBoundMs = 15_000;

let ws: Workspace;
let server: ReturnType<typeof createServer>;
let inFlight = 0;
let maxInFlight = 0;
let held: Array<() => void> = [];
let gateOpen = false;

function openGate(): void {
  gateOpen = true;
  for (const release of held) release();
  held = [];
}

async function answerResize(req: IncomingMessage, res: ServerResponse, thumbnail: Buffer): Promise<void> {
  inFlight += 1;
  maxInFlight = Math.max(maxInFlight, inFlight);
  for await (const _chunk of req) {
    // read the upload whole, as imaginary does
  }
  if (!gateOpen && inFlight >= expectedInFlight) openGate();
  if (!gateOpen) await new Promise<void>((resolve) => held.push(resolve));
  inFlight -= 1;
  res.writeHead(200, {
    "Content-Type": "image/jpeg",
    "Content-Length": thumbnail.length,
    "Image-Width": "30",
    "Image-Height": "20",
  });
  res.end(thumbnail);
}

beforeAll(async () => {
  const thumbnail = await sharp({ create: { width: 30, height: 20, channels: 3, background: "#369" } })
    .jpeg()
    .toBuffer();
  server = createServer((req, res) => {
    if (req.headers["api-key"] !== apiKey) {
      res
        .writeHead(401, { "Content-Type": "application/json" })
        .end(JSON.stringify({ message: "Invalid or missing API key", status: 401 }));
    } else if (req.method === "GET" && req.url === "/health") {
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ uptime: 1, cpus }));
    } else if (req.method === "POST" && req.url?.startsWith("/resize?")) {
      void answerResize(req, res, thumbnail);
    } else {
      res
        .writeHead(404, { "Content-Type": "application/json" })
        .end(JSON.stringify({ message: "Not found", status: 404 }));
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;

  ws = await createWorkspace("aciimg-e2e-concurrency-");
  // A state that records this stand-in as the running backend (this test process's pid, so `down`
  // finds no backend process of ours to stop and only forgets the record).
  await recordStandIn(ws, port, apiKey, cpus);
});
afterAll(async () => {
  await ws.cleanup();
  server.close();
});

describe("aciimg process: default concurrency", () => {
  it("keeps two images per backend CPU in flight, never more", async () => {
    await mkdir(join(ws.dir, "in"));
    for (let i = 0; i < 3 * expectedInFlight; i++) await writeJpeg(join(ws.dir, "in", `p${i}.jpg`), 64, 48);
    const safety = setTimeout(openGate, gateBoundMs);
    const result = await ws.run(["process", "in", "--resize", "30x20", "-o", "out/", "--json"]);
    clearTimeout(safety);
    expect(result.code, result.stderr).toBe(0);
    expect(jsonLines(result.stdout).at(-1)).toMatchObject({ summary: { ok: 3 * expectedInFlight, failed: 0 } });
    expect(maxInFlight).toBe(expectedInFlight);
  });
});
