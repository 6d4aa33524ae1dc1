// Backend benchmark (issue 2): requests/s for a 2000x1500 JPEG resized to 300x200 at concurrency
// 1, 2 and 4, through the built-in backend over loopback HTTP (undici) vs the same resize with
// sharp in-process, in the same run and the same process (so both share one libvips setup).
// Target: backend >= 0.85x of in-process. Bounded: a fixed number of requests per cell. The two
// sides run in alternating short slices, so a busy neighbour on a shared machine slows both alike.
//
//   node bench/backend.mjs [--requests 96] [--slices 8]
import { randomBytes } from "node:crypto";
import sharp from "sharp";
import { Pool } from "undici";
import { startBackend } from "../dist/backend/server.js";

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? Number(args[i + 1]) : fallback;
};
const REQUESTS = Math.min(Math.max(arg("requests", 96), 8), 2000);
const SLICES = Math.min(Math.max(arg("slices", 8), 1), 64);
const LEVELS = [1, 2, 4];

/** A photo-like 2000x1500 JPEG: gradient, shapes and fine noise so the codec has real work. */
async function makePhoto() {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="2000" height="1500">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#1d4e89"/><stop offset="1" stop-color="#e0b84c"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)"/><circle cx="1200" cy="900" r="380" fill="#f28c28"/>
    <rect x="200" y="150" width="600" height="400" fill="#f2f2f2"/></svg>`;
  const noise = await sharp(randomBytes(2000 * 1500), { raw: { width: 2000, height: 1500, channels: 1 } }).blur(0.6).toColourspace("srgb").png().toBuffer();
  return sharp(Buffer.from(svg)).composite([{ input: noise, blend: "soft-light" }]).jpeg({ quality: 88 }).toBuffer();
}

/**
 * Runs `task` `total` times with `concurrency` workers; returns elapsed seconds and the CPU seconds
 * the process spent (all threads: libvips workers, HTTP client and server alike). CPU per request
 * barely depends on what else the machine runs, so it shows the cost gap even when wall-clock
 * numbers are noisy.
 */
async function timed(concurrency, total, task) {
  let next = 0;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      next += 1;
      await task();
    }
  }));
  const used = process.cpuUsage(cpu);
  return { wall: Number(process.hrtime.bigint() - started) / 1e9, cpu: (used.user + used.system) / 1e6 };
}

const photo = await makePhoto();
const apiKey = randomBytes(16).toString("hex");
const SLOTS = arg("slots", 0);
const backend = await startBackend({ apiKey, ...(SLOTS ? { concurrency: SLOTS } : {}) });
const pool = new Pool(backend.url, { connections: Math.max(...LEVELS), pipelining: 1 });

const viaBackend = async () => {
  const res = await pool.request({ path: "/resize?width=300&height=200", method: "POST", body: photo, headers: { "API-Key": apiKey } });
  const out = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode !== 200 || res.headers["image-width"] !== "300" || res.headers["image-height"] !== "200") {
    throw new Error(`backend answered ${res.statusCode}: ${out.toString().slice(0, 200)}`);
  }
};
const inProcess = async () => {
  const { info } = await sharp(photo).resize(300, 200).jpeg({ quality: 75 }).toBuffer({ resolveWithObject: true });
  if (info.width !== 300 || info.height !== 200) throw new Error("in-process resize produced the wrong size");
};

try {
  for (let i = 0; i < 6; i += 1) { await viaBackend(); await inProcess(); } // warm up both paths
  const rows = [];
  const perSlice = Math.max(1, Math.round(REQUESTS / SLICES));
  for (const c of LEVELS) {
    const sum = { backend: { wall: 0, cpu: 0 }, local: { wall: 0, cpu: 0 } };
    const add = (side, t) => { sum[side].wall += t.wall; sum[side].cpu += t.cpu; };
    for (let i = 0; i < SLICES; i += 1) {
      // Alternate which side goes first in each slice.
      const backendFirst = i % 2 === 0;
      if (backendFirst) add("backend", await timed(c, perSlice, viaBackend));
      add("local", await timed(c, perSlice, inProcess));
      if (!backendFirst) add("backend", await timed(c, perSlice, viaBackend));
    }
    const done = perSlice * SLICES;
    rows.push({
      concurrency: c,
      backend: done / sum.backend.wall, local: done / sum.local.wall,
      backendCpu: (sum.backend.cpu / done) * 1000, localCpu: (sum.local.cpu / done) * 1000,
    });
  }
  console.log(`2000x1500 JPEG -> 300x200 JPEG q75, ${perSlice * SLICES} requests per cell in ${SLICES} alternating slices; sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}`);
  console.log("| concurrency | backend over HTTP (req/s) | sharp in-process (req/s) | ratio | CPU ms/req backend | CPU ms/req in-process | CPU ratio |");
  console.log("|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    console.log(`| ${r.concurrency} | ${r.backend.toFixed(1)} | ${r.local.toFixed(1)} | ${(r.backend / r.local).toFixed(2)}x | ${r.backendCpu.toFixed(1)} | ${r.localCpu.toFixed(1)} | ${(r.localCpu / r.backendCpu).toFixed(2)}x |`);
  }
  const worst = Math.min(...rows.map((r) => r.backend / r.local));
  console.log(`worst throughput ratio ${worst.toFixed(2)}x (target >= 0.85x); CPU ratio = in-process CPU / backend CPU per request`);
} finally {
  await pool.close();
  await backend.close();
}
