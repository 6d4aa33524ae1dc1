// What the benchmarks that spawn the CLI share (bench/batch.mjs, bench/renditions.mjs): running a
// node script, pinned to a CPU and/or with its peak RSS measured, and timing and summing up rounds.
// Not a benchmark itself (bench/run.js does not list it).
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const cli = fileURLToPath(new URL("../bin/aciimg.js", import.meta.url));
export const TASKSET = "/usr/bin/taskset";
const TIME = "/usr/bin/time";
export const CPUS = availableParallelism();
/** Whether the pinned setup can run: two CPUs to split and taskset to split them. */
export const canPin = CPUS >= 2 && existsSync(TASKSET);

/**
 * The environment of a bench's CLI runs: this one's, minus what would pick Azure or another
 * state, with the state and HOME (so no config file of the person running it) under `root`.
 */
export function isolatedEnv(root) {
  const env = {};
  for (const [key, value] of Object.entries(process.env))
    if (!/^(AZURE_|ACIIMG_|AzureWebJobs)/.test(key) && key !== "SUBSCRIPTION_ID" && key !== "RESOURCE_GROUP")
      env[key] = value;
  return { ...env, HOME: root, ACIIMG_STATE: join(root, "state", "state.json"), ACIIMG_PROVIDER: "local" };
}

/**
 * Runs node with `argv`, pinned to `cpu` (taskset) when asked; resolves with its exit code, stdout
 * and stderr. With `wrapTime` (or `peakRss`) under /usr/bin/time -v, whose report ends stderr; with
 * `peakRss` the child's peak RSS in kB is in `peakRssKb`: from /usr/bin/time -v, else the last
 * VmHWM read from /proc while it ran (every 50 ms: a lower bound), `rssBy` saying which.
 */
export function runNode(argv0, { env, timeoutMs = 600_000, wrapTime = false, peakRss = false, cpu } = {}) {
  const useTime = (wrapTime || peakRss) && existsSync(TIME);
  return new Promise((resolve, reject) => {
    let argv = [process.execPath, ...argv0];
    if (useTime) argv = [TIME, "-v", ...argv];
    if (cpu !== undefined) argv = [TASKSET, "-c", String(cpu), ...argv];
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    // taskset execs the command, so the pid is node's (without /usr/bin/time).
    let polledKb;
    const poll =
      peakRss && !useTime
        ? setInterval(() => {
            polledKb = Math.max(vmHwmKb(child.pid) ?? 0, polledKb ?? 0) || undefined;
          }, 50)
        : undefined;
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      clearInterval(poll);
      const timedKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1] ?? Number.NaN);
      const measured = peakRss
        ? useTime
          ? { peakRssKb: timedKb, rssBy: "/usr/bin/time -v" }
          : { peakRssKb: polledKb ?? Number.NaN, rssBy: "VmHWM polled every 50 ms (a lower bound)" }
        : {};
      resolve({ code, stdout, stderr, ...measured });
    });
  });
}

/** The process's peak RSS so far in kB; undefined once it has exited (a zombie's status has no VmHWM). */
function vmHwmKb(pid) {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? undefined : Number(kb);
  } catch {
    return undefined;
  }
}

/** The summary of a `process --json` run (its last line), or undefined. */
export function summaryOf(stdout) {
  try {
    return JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}").summary;
  } catch {
    return undefined;
  }
}

/** Seconds `fn` took. */
export async function timed(fn) {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
}

/** Runs `fn` on every item, at most `concurrency` at once. */
export async function pool(items, concurrency, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) await fn(items[i]);
    }),
  );
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const spread = (xs) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
