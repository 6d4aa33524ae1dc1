// Batch benchmark (issue 3): N generated 2000x1500 JPEGs resized to 300x200 by `aciimg process`
// (local provider, backend already up) vs the same work with sharp in-process at the same
// concurrency, vs ImageMagick `convert` when it is really installed. Two concurrencies: the CPU
// count, and the CLI's default (2 per backend CPU). Then the CLI's peak RSS for a batch of 1,000
// images. Targets: >= 0.8x in-process sharp; peak RSS <= 150 MB.
//
//   node bench/batch.mjs [--images 200] [--rss-images 1000] [--concurrency N] [--rounds 3]
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { link, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? Number(args[i + 1]) : fallback;
};
const IMAGES = arg("images", 200);
const RSS_IMAGES = arg("rss-images", 1000);
const CPUS = availableParallelism();
const LEVELS = args.includes("--concurrency") ? [arg("concurrency", CPUS)] : [CPUS, 2 * CPUS];
const CONCURRENCY = LEVELS.at(-1);
const ROUNDS = arg("rounds", 3);
const cli = fileURLToPath(new URL("../bin/aciimg.js", import.meta.url));

const root = await mkdtemp(join(tmpdir(), "aciimg-bench-batch-"));
const env = { ...process.env, ACIIMG_STATE: join(root, "state", "state.json"), ACIIMG_PROVIDER: "local" };

/** Runs the CLI; resolves with its exit code, stdout and stderr (bounded by a timeout). */
function runCli(cliArgs, { timeoutMs = 600_000, wrapTime = false } = {}) {
  return new Promise((resolve, reject) => {
    const command = wrapTime ? "/usr/bin/time" : process.execPath;
    const argv = wrapTime ? ["-v", process.execPath, cli, ...cliArgs] : [cli, ...cliArgs];
    const child = spawn(command, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function timed(fn) {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
}

/** Distinct photo-like JPEGs: a gradient scene with noise, tinted per image (q85, ~0.5 MB each). */
async function makeImages(dir, count) {
  await mkdir(dir, { recursive: true });
  const base = await sharp({ create: { width: 2000, height: 1500, channels: 3, noise: { type: "gaussian", mean: 128, sigma: 40 } } })
    .composite([{ input: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="2000" height="1500"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#2b6cb0"/><stop offset="1" stop-color="#f6ad55"/></linearGradient></defs><rect width="2000" height="1500" fill="url(#g)" opacity="0.85"/><circle cx="1400" cy="500" r="300" fill="#fff"/></svg>`) }])
    .blur(1.2)
    .raw()
    .toBuffer();
  for (let i = 0; i < count; i++) {
    await sharp(base, { raw: { width: 2000, height: 1500, channels: 3 } })
      .modulate({ hue: (i * 7) % 360, brightness: 0.9 + (i % 5) / 25 })
      .jpeg({ quality: 85 })
      .toFile(join(dir, `img-${String(i).padStart(4, "0")}.jpg`));
  }
}

async function pool(items, concurrency, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i]);
  }));
}

function imageMagickVersion() {
  try {
    const text = execFileSync("convert", ["-version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return /ImageMagick/.test(text.split("\n")[0] ?? "") ? text.split("\n")[0] : undefined;
  } catch {
    return undefined;
  }
}

const rows = [];
const notes = [];
try {
  const inputs = join(root, "in");
  console.log(`generating ${IMAGES} JPEGs of 2000x1500 in ${inputs} …`);
  await makeImages(inputs, IMAGES);
  const files = (await readdir(inputs)).sort().map((f) => join(inputs, f));

  const up = await runCli(["up", "--json"]);
  if (up.code !== 0) throw new Error(`aciimg up failed: ${up.stderr}`);
  // Warm the backend and the page cache with a short run, so the timed run measures steady state.
  await runCli(["process", ...files.slice(0, Math.min(10, files.length)), "--resize", "300x200", "-o", join(root, "warm") + "/", "--concurrency", String(CONCURRENCY)]);

  // Alternate the two (ROUNDS times each) and take the median, so a burst of load on a shared
  // machine does not land on one side only.
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const runAciimg = async (concurrency, round) => {
    let result;
    const seconds = await timed(async () => {
      result = await runCli(["process", inputs, "--resize", "300x200", "-o", join(root, `out-cli-${concurrency}-${round}`) + "/", "--concurrency", String(concurrency), "--json"]);
    });
    const summary = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}").summary;
    if (result.code !== 0 || summary?.ok !== IMAGES) throw new Error(`aciimg process failed (exit ${result.code}): ${result.stderr}`);
    return seconds;
  };
  const runSharp = async (concurrency, round) => {
    const out = join(root, `out-sharp-${concurrency}-${round}`);
    await mkdir(out);
    return timed(() =>
      pool(files, concurrency, (file) =>
        sharp(file).resize(300, 200, { fit: "contain", background: { r: 0, g: 0, b: 0 } }).jpeg().toFile(join(out, file.split("/").at(-1)))),
    );
  };
  for (const concurrency of LEVELS) {
    const cliRuns = [];
    const sharpRuns = [];
    for (let round = 0; round < ROUNDS; round++) {
      cliRuns.push(await runAciimg(concurrency, round));
      sharpRuns.push(await runSharp(concurrency, round));
    }
    const sharpSeconds = median(sharpRuns);
    rows.push({ concurrency, method: `aciimg process (local backend, concurrency ${concurrency})`, seconds: median(cliRuns), runs: cliRuns, baseline: sharpSeconds });
    rows.push({ concurrency, method: `sharp in-process (concurrency ${concurrency})`, seconds: sharpSeconds, runs: sharpRuns, baseline: sharpSeconds });
  }
  const defaultSharp = rows.findLast((row) => row.concurrency === CONCURRENCY).seconds;

  const magick = imageMagickVersion();
  if (magick) {
    await mkdir(join(root, "out-magick"));
    const magickSeconds = await timed(() =>
      pool(files, CONCURRENCY, (file) => new Promise((resolve, reject) => {
        const child = spawn("convert", [file, "-resize", "300x200", "-background", "black", "-gravity", "center", "-extent", "300x200", join(root, "out-magick", file.split("/").at(-1))]);
        child.on("error", reject);
        child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`convert exited ${code}`))));
      })),
    );
    rows.push({ concurrency: CONCURRENCY, method: `ImageMagick convert (${magick.replace(/^Version: /, "")}, concurrency ${CONCURRENCY})`, seconds: magickSeconds, baseline: defaultSharp });
  } else {
    notes.push("ImageMagick: skipped, `convert -version` does not report ImageMagick here (apt-get install imagemagick to include it).");
  }

  console.log(`\nBatch: ${IMAGES} JPEGs 2000x1500 -> 300x200, ${CPUS} CPUs, load average ${loadavg()[0].toFixed(1)}; median of ${ROUNDS} alternating rounds\n`);
  console.log("| method | seconds (median) | images/s | vs sharp in-process, same concurrency | all rounds (s) |");
  console.log("|---|---:|---:|---:|---|");
  for (const row of rows) {
    console.log(`| ${row.method} | ${row.seconds.toFixed(2)} | ${(IMAGES / row.seconds).toFixed(1)} | ${(row.baseline / row.seconds).toFixed(2)}x | ${(row.runs ?? [row.seconds]).map((x) => x.toFixed(2)).join(", ")} |`);
  }
  for (const row of rows.filter((r) => r.method.startsWith("aciimg"))) {
    const ratio = row.baseline / row.seconds;
    console.log(`target >= 0.80x sharp at concurrency ${row.concurrency}: ${ratio >= 0.8 ? "met" : "NOT met"} (${ratio.toFixed(2)}x)`);
  }

  // Peak RSS of the CLI for a batch of RSS_IMAGES: hard links to the generated files (same bytes,
  // no extra disk), measured by /usr/bin/time -v, else unmeasured with a note.
  const many = join(root, "in-many");
  await mkdir(many);
  for (let i = 0; i < RSS_IMAGES; i++) await link(files[i % files.length], join(many, `img-${String(i).padStart(5, "0")}.jpg`));
  const hasTime = existsSync("/usr/bin/time");
  const started = performance.now();
  const big = await runCli(["process", many, "--resize", "300x200", "-o", join(root, "out-many") + "/", "--concurrency", String(CONCURRENCY), "--json"], { wrapTime: hasTime });
  const seconds = (performance.now() - started) / 1000;
  const bigSummary = JSON.parse(big.stdout.trim().split("\n").at(-1) ?? "{}").summary;
  const rssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(big.stderr)?.[1] ?? NaN);
  console.log(`\nCLI batch of ${RSS_IMAGES} images: ${bigSummary?.ok ?? 0} ok in ${seconds.toFixed(1)} s (${(RSS_IMAGES / seconds).toFixed(1)} img/s)`);
  // The same 1,000 files through sharp in-process, for the ratio once the CLI's start-up is amortized.
  const manyFiles = (await readdir(many)).sort().map((f) => join(many, f));
  await mkdir(join(root, "out-many-sharp"));
  const manySharpSeconds = await timed(() =>
    pool(manyFiles, CONCURRENCY, (file) =>
      sharp(file).resize(300, 200, { fit: "contain", background: { r: 0, g: 0, b: 0 } }).jpeg().toFile(join(root, "out-many-sharp", file.split("/").at(-1)))),
  );
  console.log(`sharp in-process, same ${RSS_IMAGES} images: ${manySharpSeconds.toFixed(1)} s (${(RSS_IMAGES / manySharpSeconds).toFixed(1)} img/s); aciimg process ${(manySharpSeconds / seconds).toFixed(2)}x of it`);
  if (Number.isFinite(rssKb)) {
    const mb = rssKb / 1024;
    console.log(`CLI peak RSS: ${mb.toFixed(1)} MB (target <= 150 MB: ${mb <= 150 ? "met" : "NOT met"})`);
  } else {
    notes.push("peak RSS: /usr/bin/time -v not available; not measured.");
  }
  if (big.code !== 0) throw new Error(`the ${RSS_IMAGES}-image batch failed (exit ${big.code}): ${big.stderr.slice(-2000)}`);
  for (const note of notes) console.log(`note: ${note}`);
} finally {
  await runCli(["down"]).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
}
