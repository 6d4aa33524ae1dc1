// Serve benchmark (issue 5): `aciimg serve` vs calling its backend directly, in the same run, for
// a ~1 MB JPEG resized to 300x200, at concurrency 1 and 16: p50 and p99 latency, throughput, and
// their ratios. Targets: serve's p50 at most 5% above direct, throughput at least 0.95x.
// `aciimg serve` runs as its own process (as it is deployed), so it does not share this load
// generator's event loop. Direct and serve alternate in short rounds (single requests at
// concurrency 1, 2x concurrency requests at 16), so drift on a shared machine hits both alike.
//
//   node bench/serve.mjs [--requests 200] [--json]
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { Pool } from "undici";

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? Number(args[i + 1]) : fallback;
};
const REQUESTS = arg("requests", 200); // per target and concurrency, over all rounds
const JSON_OUT = args.includes("--json");
const CONCURRENCIES = [1, 16];
const DEADLINE = Date.now() + 8 * 60_000; // the whole benchmark is bounded

/** The reference proxy: streams the request to the backend and the answer back, nothing else. */
const PIPE_PROXY = `
import { createServer } from "node:http";
import { pipeline } from "node:stream/promises";
import { Pool } from "undici";
const [origin, key] = process.argv.slice(1);
// A local backend listens on a Unix socket: its endpoint is unix:/path.sock.
const pool = origin.startsWith("unix:")
  ? new Pool("http://localhost", { connections: 16, socketPath: origin.slice(5) })
  : new Pool(origin, { connections: 16 });
const server = createServer(async (req, res) => {
  const r = await pool.request({ method: "POST", path: req.url, headers: { "api-key": key }, body: req });
  res.writeHead(r.statusCode, {
    "content-type": r.headers["content-type"],
    "content-length": r.headers["content-length"],
  });
  await pipeline(r.body, res);
});
server.listen(0, "127.0.0.1", () =>
  process.stderr.write("listening on http://127.0.0.1:" + server.address().port + "\\n"),
);
`;

/** A pool to an origin, or to the Unix socket of a local backend's `unix:/path.sock` endpoint. */
function poolOf(origin, connections) {
  return origin.startsWith("unix:")
    ? new Pool("http://localhost", { connections, socketPath: origin.slice(5) })
    : new Pool(origin, { connections });
}

/** A photo-like JPEG of about 1 MB: noise under a gradient, quality searched to land near 1 MB. */
async function photoOfAboutOneMegabyte() {
  const raw = await sharp({
    create: { width: 2400, height: 1600, channels: 3, noise: { type: "gaussian", mean: 128, sigma: 30 } },
  })
    .composite([
      {
        input: Buffer.from(
          '<svg xmlns="http://www.w3.org/2000/svg" width="2400" ' +
            'height="1600"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" ' +
            'stop-color="#2b6cb0"/><stop offset="1" stop-color="#f6ad55"/></linearGradient></defs><rect ' +
            'width="2400" height="1600" fill="url(#g)" opacity="0.9"/></svg>',
        ),
      },
    ])
    .blur(1.5)
    .raw()
    .toBuffer();
  let best;
  for (let low = 30, high = 95, step = 0; step < 7 && low <= high; step++) {
    const quality = Math.round((low + high) / 2);
    const jpeg = await sharp(raw, { raw: { width: 2400, height: 1600, channels: 3 } })
      .jpeg({ quality })
      .toBuffer();
    if (!best || Math.abs(jpeg.length - 1e6) < Math.abs(best.length - 1e6)) best = jpeg;
    if (jpeg.length > 1e6) high = quality - 1;
    else low = quality + 1;
  }
  return best;
}

/** `count` POSTs through `pool` at `concurrency`; latencies in ms and wall time in s. */
async function run(pool, headers, body, count, concurrency) {
  const latencies = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next += 1;
        if (Date.now() > DEADLINE) throw new Error("benchmark exceeded its time bound");
        const t0 = performance.now();
        const response = await pool.request({ method: "POST", path: "/resize?width=300&height=200", headers, body });
        const bytes = Buffer.from(await response.body.arrayBuffer());
        if (response.statusCode !== 200 || bytes.length === 0)
          throw new Error(`HTTP ${response.statusCode}: ${bytes.toString().slice(0, 200)}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

function summarize(samples) {
  const latencies = samples.flatMap((s) => s.latencies).sort((a, b) => a - b);
  const seconds = samples.reduce((sum, s) => sum + s.seconds, 0);
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    throughput: latencies.length / seconds,
    n: latencies.length,
  };
}

const cli = fileURLToPath(new URL("../bin/aciimg.js", import.meta.url));
const dir = await mkdtemp(join(tmpdir(), "aciimg-bench-serve-"));
const key = "bench-serve-key-0123456789abcdef";
const env = { ...process.env, ACIIMG_STATE: join(dir, "state.json"), ACIIMG_PROVIDER: "local", ACIIMG_SERVE_KEY: key };
/** Resolves with the URL a child prints in its "listening on …" line; bounded. */
function listening(proc, what) {
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error(`${what} did not start within 20 s:\n${text}`)), 20_000);
    proc.stderr.on("data", (chunk) => {
      text += chunk;
      const match = /listening on (http:\/\/[^\s]+)/.exec(text);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    proc.once("exit", (code) => reject(new Error(`${what} exited with ${code}:\n${text}`)));
  });
}

const child = spawn(process.execPath, [cli, "serve", "--port", "0"], { env, stdio: ["ignore", "ignore", "pipe"] });
let pipeProxy;
try {
  const serveUrl = await listening(child, "serve");
  const photo = await photoOfAboutOneMegabyte();
  // The first request through serve starts the backend; the state then names it and its key.
  const warm = new Pool(serveUrl, { connections: 1 });
  await run(warm, { "api-key": key }, photo, 1, 1);
  await warm.close();
  const record = JSON.parse(await readFile(join(dir, "state.json"), "utf8")).backends.default;
  pipeProxy = spawn(process.execPath, ["--input-type=module", "-e", PIPE_PROXY, record.endpoint, record.apiKey], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    stdio: ["ignore", "ignore", "pipe"],
  });
  const pipeUrl = await listening(pipeProxy, "the pipe proxy");
  const targets = {
    direct: { origin: record.endpoint, headers: { "api-key": record.apiKey } },
    serve: { origin: serveUrl, headers: { "api-key": key } },
    pipe: { origin: pipeUrl, headers: {} },
  };
  const rows = [];
  for (const concurrency of CONCURRENCIES) {
    const pools = Object.fromEntries(Object.entries(targets).map(([name, t]) => [name, poolOf(t.origin, concurrency)]));
    const samples = { direct: [], serve: [], pipe: [] };
    // Warm both paths (connections, libvips caches) before measuring.
    for (const name of Object.keys(targets))
      await run(pools[name], targets[name].headers, photo, Math.max(4, concurrency), concurrency);
    const perRound = concurrency === 1 ? 1 : 2 * concurrency;
    const rounds = Math.ceil(REQUESTS / perRound);
    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first, so neither always runs on a warmer machine.
      const order = round % 2 === 0 ? ["direct", "serve", "pipe"] : ["pipe", "serve", "direct"];
      for (const name of order)
        samples[name].push(await run(pools[name], targets[name].headers, photo, perRound, concurrency));
    }
    await Promise.all(Object.values(pools).map((pool) => pool.close()));
    const direct = summarize(samples.direct);
    const serve = summarize(samples.serve);
    const pipe = summarize(samples.pipe);
    rows.push({
      concurrency,
      direct,
      serve,
      pipe,
      p50Overhead: serve.p50 / direct.p50 - 1,
      throughputRatio: serve.throughput / direct.throughput,
      pipeP50Overhead: pipe.p50 / direct.p50 - 1,
      pipeThroughputRatio: pipe.throughput / direct.throughput,
    });
  }

  if (JSON_OUT) {
    console.log(JSON.stringify({ imageBytes: photo.length, rows }));
  } else {
    const ms = (v) => `${v.toFixed(1)} ms`;
    console.log(
      `input: ${(photo.length / 1e6).toFixed(2)} MB JPEG 2400x1600 -> resize 300x200; ` +
        `${REQUESTS} requests per cell, direct and serve alternating`,
    );
    console.log(
      "conc | target | p50      | p99      | req/s  | p50 overhead vs direct (target <= 5%) " +
        "| throughput vs direct (target >= 0.95x)",
    );
    for (const row of rows) {
      for (const name of ["direct", "serve", "pipe"]) {
        const s = row[name];
        const extra =
          name === "serve"
            ? ` | ${(row.p50Overhead * 100).toFixed(1)}% ${row.p50Overhead <= 0.05 ? "ok" : "MISSED"} ` +
              `| ${row.throughputRatio.toFixed(3)}x ${row.throughputRatio >= 0.95 ? "ok" : "MISSED"}`
            : name === "pipe"
              ? ` | (floor) ${(row.pipeP50Overhead * 100).toFixed(1)}% | ${row.pipeThroughputRatio.toFixed(3)}x`
              : " | |";
        console.log(
          `${String(row.concurrency).padStart(4)} | ${name.padEnd(6)} | ${ms(s.p50).padStart(8)} ` +
            `| ${ms(s.p99).padStart(8)} | ${s.throughput.toFixed(1).padStart(6)}${extra}`,
        );
      }
    }
  }
} finally {
  pipeProxy?.kill("SIGTERM");
  child.kill("SIGTERM");
  await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once("exit", resolve)));
  spawnSync(process.execPath, [cli, "down"], { env, stdio: "ignore", timeout: 30_000 });
  await rm(dir, { recursive: true, force: true });
}
