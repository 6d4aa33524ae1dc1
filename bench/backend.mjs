// Backend benchmark (issue 2): requests/s for a 2000x1500 JPEG resized to 300x200 at concurrency
// 1, 2 and 4, through the built-in backend over loopback HTTP (undici) vs the same work with sharp
// in-process, in the same run. Target: backend >= 0.85x of in-process.
//
// The backend runs as its own process (`aciimg backend`, exactly as the local provider starts it),
// so client and server do not share one event loop as they never do in use. "The same work" is
// imaginary's resize (fit into 300x200, then extend with `copy`), run in-process through the
// backend's own imaging code; a plain sharp cover-crop row is printed too, for reference.
// Bounded: a fixed number of requests per cell, in alternating slices so a busy neighbour on a
// shared machine slows every side alike.
//
//   node bench/backend.mjs [--requests 240] [--slices 8]
import { randomBytes } from "node:crypto";
import sharp from "sharp";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Pool } from "undici";
import { runOperation } from "../dist/backend/imaging.js";

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? Number(args[i + 1]) : fallback;
};
const REQUESTS = Math.min(Math.max(arg("requests", 240), 8), 2000);
const SLICES = Math.min(Math.max(arg("slices", 8), 1), 64);
const LEVELS = [1, 2, 4];

/** A photo-like 2000x1500 JPEG: gradient, shapes and fine noise so the codec has real work. */
async function makePhoto() {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="2000" height="1500">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#1d4e89"/>
    <stop offset="1" stop-color="#e0b84c"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)"/><circle cx="1200" cy="900" r="380" fill="#f28c28"/>
    <rect x="200" y="150" width="600" height="400" fill="#f2f2f2"/></svg>`;
  const noise = await sharp(randomBytes(2000 * 1500), { raw: { width: 2000, height: 1500, channels: 1 } })
    .blur(0.6)
    .toColourspace("srgb")
    .png()
    .toBuffer();
  return sharp(Buffer.from(svg))
    .composite([{ input: noise, blend: "soft-light" }])
    .jpeg({ quality: 88 })
    .toBuffer();
}

/** CPU seconds a child process has used so far (utime + stime from /proc, in clock ticks of 10 ms). */
function childCpu(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Runs `task` `total` times with `concurrency` workers; returns elapsed seconds and the CPU seconds
 * spent by this process plus the backend process (all threads: libvips workers, HTTP client and
 * server alike). CPU per request barely depends on what else the machine runs, so it shows the
 * cost gap even when wall-clock numbers are noisy.
 */
async function timed(concurrency, total, task, pid) {
  let next = 0;
  const cpu = process.cpuUsage();
  const childBefore = pid ? childCpu(pid) : 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next += 1;
        await task();
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  const child = pid ? childCpu(pid) - childBefore : 0;
  return { wall: Number(process.hrtime.bigint() - started) / 1e9, cpu: (used.user + used.system) / 1e6 + child };
}

/** Starts `aciimg backend` as the local provider does: key in the environment, port from its one stdout line. */
async function startBackendProcess(apiKey) {
  const cli = fileURLToPath(new URL("../bin/aciimg.js", import.meta.url));
  const child = spawn(process.execPath, [cli, "backend", "--host", "127.0.0.1", "--port", "0"], {
    env: { ...process.env, ACIIMG_BACKEND_KEY: apiKey },
    stdio: ["ignore", "pipe", "ignore"],
  });
  const line = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("backend did not start within 20 s")), 20_000);
    child.once("exit", (code) => reject(new Error(`backend exited with ${code}`)));
    createInterface({ input: child.stdout }).once("line", (text) => {
      clearTimeout(timer);
      resolve(text);
    });
  });
  const { port } = JSON.parse(line).listening;
  return { child, url: `http://127.0.0.1:${port}` };
}

const photo = await makePhoto();
const apiKey = randomBytes(16).toString("hex");
const backend = await startBackendProcess(apiKey);
const pool = new Pool(backend.url, { connections: Math.max(...LEVELS), pipelining: 1 });

const viaBackend = async () => {
  const res = await pool.request({
    path: "/resize?width=300&height=200",
    method: "POST",
    body: photo,
    headers: { "API-Key": apiKey },
  });
  const out = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode !== 200 || res.headers["image-width"] !== "300" || res.headers["image-height"] !== "200") {
    throw new Error(`backend answered ${res.statusCode}: ${out.toString().slice(0, 200)}`);
  }
};
const photoInfo = { type: "jpeg", width: 2000, height: 1500, orientation: 1 };
const inProcess = async () => {
  const result = await runOperation("resize", photo, photoInfo, { width: 300, height: 200 }, { maxOutputPixels: 72e6 });
  if (result.width !== 300 || result.height !== 200) throw new Error("in-process resize produced the wrong size");
};
const coverCrop = async () => {
  const { info } = await sharp(photo).resize(300, 200).jpeg({ quality: 75 }).toBuffer({ resolveWithObject: true });
  if (info.width !== 300 || info.height !== 200) throw new Error("in-process cover crop produced the wrong size");
};

try {
  for (let i = 0; i < 6; i += 1) {
    await viaBackend();
    await inProcess();
    await coverCrop();
  } // warm up every path
  const rows = [];
  const perSlice = Math.max(1, Math.round(REQUESTS / SLICES));
  const sides = [
    ["backend", viaBackend, backend.child.pid],
    ["local", inProcess],
    ["cover", coverCrop],
  ];
  for (const c of LEVELS) {
    const sum = Object.fromEntries(sides.map(([side]) => [side, { wall: 0, cpu: 0 }]));
    for (let i = 0; i < SLICES; i += 1) {
      // Rotate which side goes first in each slice.
      for (let k = 0; k < sides.length; k += 1) {
        const [side, task, pid] = sides[(i + k) % sides.length];
        const t = await timed(c, perSlice, task, pid);
        sum[side].wall += t.wall;
        sum[side].cpu += t.cpu;
      }
    }
    const done = perSlice * SLICES;
    const rate = (side) => done / sum[side].wall;
    const cpuMs = (side) => (sum[side].cpu / done) * 1000;
    rows.push({
      concurrency: c,
      backend: rate("backend"),
      local: rate("local"),
      cover: rate("cover"),
      backendCpu: cpuMs("backend"),
      localCpu: cpuMs("local"),
    });
  }
  console.log(
    `2000x1500 JPEG -> 300x200 JPEG q75, ${perSlice * SLICES} requests ` +
      `per cell in ${SLICES} rotating slices; sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}`,
  );
  console.log(
    "| concurrency | backend process over HTTP (req/s) | same work in-process (req/s) | ratio | CPU ms/req " +
      "backend (client+server) | CPU ms/req in-process | plain sharp cover crop (req/s) | ratio vs cover |",
  );
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    console.log(
      `| ${r.concurrency} | ${r.backend.toFixed(1)} ` +
        `| ${r.local.toFixed(1)} | ${(r.backend / r.local).toFixed(2)}x | ${r.backendCpu.toFixed(1)} ` +
        `| ${r.localCpu.toFixed(1)} | ${r.cover.toFixed(1)} | ${(r.backend / r.cover).toFixed(2)}x |`,
    );
  }
  const worst = Math.min(...rows.map((r) => r.backend / r.local));
  console.log(`worst throughput ratio vs the same work ${worst.toFixed(2)}x (target >= 0.85x)`);
} finally {
  await pool.close();
  backend.child.kill("SIGTERM");
}
