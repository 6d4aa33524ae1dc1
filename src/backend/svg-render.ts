/**
 * SVG rasterised in a child process that is killed when the request's render time runs out.
 * sharp's `timeout()` cannot stop librsvg: libvips checks it between tiles,
 * and one tile of a filter chain (`feMorphology` radius 100 + `feGaussianBlur` on 3000×3000, a
 * 211-byte file) renders for minutes in one call: with `timeout({ seconds: 2 })` it was still
 * rendering after 90 s (39 s of CPU). A worker thread cannot be stopped either (libvips runs on
 * libuv's shared pool), so the render runs in its own process, which SIGKILL stops at once.
 * The rest of the operation runs here on the pixels, under sharp's timeout (imaging.ts).
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { ImagingError } from "./imaging-error.js";
import { tooSlow, type Deadline } from "./deadline.js";

/** Pixels of a rendered SVG: 8-bit, `channels` per pixel, row by row (sharp's raw input). */
export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/**
 * The child's program, a string so the same code runs from src (tests) and dist: once sharp is
 * loaded it writes one byte (ready), reads the SVG on stdin, and writes width, height and channels
 * (3 × uint32 BE), then the pixels, on stdout. One libvips thread, as each image in the backend
 * gets (server.ts).
 */
const renderProgram = `
const sharp = require(process.argv[1]);
sharp.concurrency(1);
sharp.cache(false);
process.stdout.write(Buffer.from([1]));
const chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", () => {
  const svg = sharp(Buffer.concat(chunks), { failOn: "none", limitInputPixels: false });
  svg.raw().toBuffer({ resolveWithObject: true }).then(
    ({ data, info }) => {
      const head = Buffer.alloc(12);
      head.writeUInt32BE(info.width, 0); head.writeUInt32BE(info.height, 4); head.writeUInt32BE(info.channels, 8);
      process.stdout.write(head);
      process.stdout.end(data);
    },
    (e) => { process.stderr.write(String((e && e.message) || e).slice(0, 2000)); process.exitCode = 1; },
  );
});`;

const sharpPath = createRequire(import.meta.url).resolve("sharp");

/**
 * How long the render process may take to start (node and sharp loading: ~0.1 s idle, over 1 s on
 * 2 CPUs shared by 20 processes). Not counted in the render time: the image has no say in it.
 */
const startBoundMs = 60_000;

/**
 * Renders `svg` by the deadline (its process's start not counted), or rejects: 422 when the time
 * runs out (the child is killed), imaginary's 400 when librsvg fails, and when `signal` aborts (the
 * client left) the child is killed too. `env` is the child's environment (no API key: it only
 * ever sees the image).
 */
export function renderSvg(
  svg: Buffer,
  deadline: Deadline,
  signal: AbortSignal,
  env?: NodeJS.ProcessEnv,
): Promise<RawImage> {
  if (deadline.remainingMs() <= 0) return Promise.reject(tooSlow(deadline));
  return new Promise((resolve, reject) => {
    const args = ["-e", renderProgram, sharpPath];
    const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "pipe"], ...(env ? { env } : {}) });
    const out: Buffer[] = [];
    let err = "";
    let settled = false;
    const finish = (error: Error | undefined, image?: RawImage): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      if (error) reject(error);
      else resolve(image as RawImage);
    };
    const onAbort = (): void => finish(new ImagingError(499, "client closed the connection"));
    const spawnedAt = performance.now();
    let timer = setTimeout(() => finish(failed(500, "the SVG renderer did not start")), startBoundMs);
    let isReady = false;
    signal.addEventListener("abort", onAbort, { once: true });
    child.stdout.on("data", (chunk: Buffer) => {
      if (!isReady) {
        // The first byte says sharp is loaded: the render time starts now.
        isReady = true;
        deadline.exclude(performance.now() - spawnedAt);
        clearTimeout(timer);
        timer = setTimeout(() => finish(tooSlow(deadline)), deadline.remainingMs());
        chunk = chunk.subarray(1);
      }
      out.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      if (err.length < 2000) err += chunk.toString("utf8");
    });
    child.on("error", (error) => finish(failed(500, `cannot start the SVG renderer (${error.message})`)));
    // The child may end first (a broken SVG); a refused write is then reported by 'close'.
    child.stdin.on("error", () => {});
    child.on("close", (code) => {
      if (code !== 0) return finish(failed(400, err.trim() || `the SVG renderer exited with ${code}`));
      const image = rawImageOf(Buffer.concat(out));
      finish(image ? undefined : failed(500, "the SVG renderer's output is truncated"), image);
    });
    child.stdin.end(svg);
  });
}

const failed = (status: number, message: string): ImagingError =>
  new ImagingError(status, `Error while processing the image: ${message}`);

/** The child's output as pixels: the 12-byte header, then exactly width × height × channels bytes. */
function rawImageOf(all: Buffer): RawImage | undefined {
  if (all.length < 12) return undefined;
  const width = all.readUInt32BE(0),
    height = all.readUInt32BE(4),
    channels = all.readUInt32BE(8);
  if (channels < 1 || channels > 4 || all.length !== 12 + width * height * channels) return undefined;
  return { data: all.subarray(12), width, height, channels: channels as RawImage["channels"] };
}
