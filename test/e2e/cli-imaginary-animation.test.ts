/**
 * On a backend that is imaginary (no X-Aciimg-Frames or X-Aciimg-Flattened in its answers), an
 * animated input comes back as its first frame, and `process` says so: in a file's line, its
 * --json line, and for stdin. The backend is a stand-in imaginary on loopback that converts as
 * imaginary does, reading only the first frame (sharp's default, as bimg's); the GIFs are made by
 * sharp.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp, { type FormatEnum, type Metadata } from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { animatedGif } from "../helpers/damaged.js";
import { createWorkspace, jsonLines, type Workspace, recordStandIn } from "./cli-harness.js";

const apiKey = "k".repeat(32);
const warning = "only the first frame was kept: imaginary does not keep animations";

let ws: Workspace;
let server: ReturnType<typeof createServer>;

/** A WebP of one 120x80 frame: what imaginary writes of the animation. */
function expectOneFrame(metadata: Metadata): void {
  expect(metadata).toMatchObject({ format: "webp", width: 120, height: 80 });
  expect(metadata.pages ?? 1).toBe(1);
}

/** imaginary's /convert: the first frame of the upload in the type asked for, as imaginary answers it. */
async function answerConvert(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  const query = new URL(req.url ?? "/", "http://localhost").searchParams;
  const type = (query.get("type") ?? "png") as keyof FormatEnum;
  const { data, info } = await sharp(Buffer.concat(chunks)).toFormat(type).toBuffer({ resolveWithObject: true });
  res.writeHead(200, {
    "Content-Type": `image/${type}`,
    "Content-Length": data.length,
    Server: "imaginary 1.2.4 (bimg 1.1.7)",
    "Image-Width": info.width,
    "Image-Height": info.height,
  });
  res.end(data);
}

/** Records the stand-in as the running backend. */
async function recordBackend(): Promise<void> {
  // Under this test's pid: `down` finds no backend process of ours to stop and only forgets the
  // record (as in cli-concurrency.test.ts).
  const { port } = server.address() as AddressInfo;
  await recordStandIn(ws, port, apiKey);
}

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.headers["api-key"] !== apiKey) {
      res
        .writeHead(401, { "Content-Type": "application/json" })
        .end(JSON.stringify({ message: "Invalid or missing API key", status: 401 }));
    } else if (req.method === "GET" && req.url === "/health") {
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ uptime: 1, cpus: 1 }));
    } else if (req.method === "POST" && req.url?.startsWith("/convert?")) {
      answerConvert(req, res).catch((error: unknown) => {
        res
          .writeHead(400, { "Content-Type": "application/json" })
          .end(JSON.stringify({ message: String(error), status: 400 }));
      });
    } else {
      res
        .writeHead(404, { "Content-Type": "application/json" })
        .end(JSON.stringify({ message: "Not found", status: 404 }));
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  ws = await createWorkspace("aciimg-e2e-imaginary-animation-");
  await recordBackend();
  await writeFile(join(ws.dir, "spinner.gif"), await animatedGif(8, 120, 80));
  await writeFile(
    join(ws.dir, "still.gif"),
    await sharp({ create: { width: 120, height: 80, channels: 3, background: "#369" } })
      .gif()
      .toBuffer(),
  );
});
afterAll(async () => {
  await ws.cleanup();
  server.close();
});

describe("an animated GIF on an imaginary backend", () => {
  it("to WebP is written as its first frame, and its --json line says so", async () => {
    const result = await ws.run(["process", "spinner.gif", "still.gif", "--type", "webp", "-o", "out/", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const lines = jsonLines(result.stdout);
    expect(lines.find((line) => line.input === "spinner.gif")).toMatchObject({ status: "ok", warning });
    const still = lines.find((line) => line.input === "still.gif");
    expect(still).toMatchObject({ status: "ok" });
    expect(still).not.toHaveProperty("warning");
    expectOneFrame(await sharp(join(ws.dir, "out", "spinner.webp")).metadata());
  });

  it("says so once in the file's line, and nothing of a still GIF", async () => {
    const result = await ws.run(["process", "spinner.gif", "still.gif", "--type", "webp", "-o", "plain/"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`warning spinner.gif: ${warning}\n`);
    expect(result.stderr.split(warning)).toHaveLength(2);
    expect(result.stderr).not.toContain("still.gif: only");
  });

  it("from stdin, says so on stderr (to stdout) and in the --json line (to a file)", async () => {
    const input = await animatedGif(8, 120, 80);
    const piped = await ws.run(["process", "-", "--type", "webp"], { input });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stderr).toContain(`aciimg: warning: the image on stdin: ${warning}\n`);
    expectOneFrame(await sharp(piped.stdoutBytes).metadata());

    const json = await ws.run(["process", "-", "--type", "webp", "-o", "from-stdin.webp", "--json"], { input });
    expect(json.code, json.stderr).toBe(0);
    expect(jsonLines(json.stdout)[0]).toMatchObject({ input: "-", status: "ok", warning });

    const still = await sharp({ create: { width: 120, height: 80, channels: 3, background: "#369" } })
      .gif()
      .toBuffer();
    const stillPiped = await ws.run(["process", "-", "--type", "webp"], { input: still });
    expect(stillPiped.code, stillPiped.stderr).toBe(0);
    expect(stillPiped.stderr).not.toContain("the image on stdin");
  });
});
