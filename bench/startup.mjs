// Start-up benchmark (issue 13 §7): how long a command takes from `node` to exit, against bare
// `node -e 0` measured in the same run. `status` and `--help` on the local provider with no
// backend (what cron and people type most); one-image `process` against a warm local backend.
//
//   node bench/startup.mjs [--runs 15]
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";

const args = process.argv.slice(2);
const runsArg = args.indexOf("--runs");
const RUNS = runsArg >= 0 ? Number(args[runsArg + 1]) : 15;
const cli = fileURLToPath(new URL("../bin/aciimg.js", import.meta.url));
const root = await mkdtemp(join(tmpdir(), "aciimg-bench-startup-"));
const env = {
  PATH: process.env.PATH ?? "",
  HOME: root,
  ACIIMG_STATE: join(root, "state", "state.json"),
  ACIIMG_PROVIDER: "local",
};

/** Wall time of one run in ms; fails loudly if the command fails. */
function once(argv) {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, argv, {
    env,
    cwd: root,
    stdio: ["ignore", "ignore", "pipe"],
    timeout: 60_000,
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${argv.join(" ")} exited ${result.status}: ${result.stderr}`);
  return ms;
}

/** Median of RUNS runs, after one warm-up run (file cache). */
function median(argv) {
  once(argv);
  const times = Array.from({ length: RUNS }, () => once(argv)).sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], min: times[0], max: times.at(-1) };
}

try {
  const photo = join(root, "photo.jpg");
  await sharp({ create: { width: 1200, height: 800, channels: 3, background: "#4080c0" } })
    .jpeg()
    .toFile(photo);
  const cases = [
    ["node -e 0 (baseline)", ["-e", "0"]],
    ["aciimg --help", [cli, "--help"]],
    ["aciimg status (no backend)", [cli, "status"]],
  ];
  const rows = cases.map(([name, argv]) => ({ name, ...median(argv) }));
  once([cli, "up"]);
  rows.push({
    name: "aciimg process, 1 image (warm backend)",
    ...median([cli, "process", photo, "--resize", "300x200", "-o", join(root, "out.jpg")]),
  });
  once([cli, "down"]);

  const base = rows[0].median;
  console.log(`\nStart-up: median of ${RUNS} runs each (after one warm-up), wall time from spawn to exit\n`);
  console.log("| command | median ms | min–max ms | vs node -e 0 |");
  console.log("|---|---:|---:|---:|");
  for (const row of rows) {
    console.log(
      `| ${row.name} | ${row.median.toFixed(0)} | ${row.min.toFixed(0)}–${row.max.toFixed(0)} ` +
        `| ${(row.median / base).toFixed(2)}x (+${(row.median - base).toFixed(0)} ms) |`,
    );
  }
} finally {
  spawnSync(process.execPath, [cli, "down"], { env, cwd: root, stdio: "ignore", timeout: 30_000 });
  await rm(root, { recursive: true, force: true });
}
