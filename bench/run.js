#!/usr/bin/env node
// Runs every benchmark in bench/ one after another (they share two cores, so never in parallel)
// and lets each print its own table. Exit status: non-zero if any benchmark failed.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

// sharp-batch.mjs and floor-client.mjs (the baselines and floor), images.mjs (the inputs) and harness.mjs (the
// helpers) are not benchmarks. BENCH_SCALE=0.1 runs renditions.mjs at a tenth of the issue's scale.
const scripts = ["backend.mjs", "batch.mjs", "renditions.mjs", "serve.mjs", "startup.mjs", "pool.mjs"];
let failed = 0;
for (const script of scripts) {
  const path = fileURLToPath(new URL(script, import.meta.url));
  if (!existsSync(path)) continue;
  console.log(`\n=== bench/${script} ===`);
  const result = spawnSync(process.execPath, [path, ...process.argv.slice(2)], { stdio: "inherit" });
  if (result.status !== 0) {
    failed += 1;
    console.error(`bench/${script} failed (${result.signal ?? `exit ${result.status}`})`);
  }
}
process.exitCode = failed ? 1 : 0;
