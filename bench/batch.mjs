// Batch benchmark (issues 3 and 15): N generated 2000x1500 JPEGs resized to 300x200 by `aciimg
// process` (local provider, backend already up) vs the same work done by sharp in one process
// (bench/sharp-batch.mjs: imaginary's resize, fit inside then extend, q75; libvips set up as the
// backend sets it up), measured in the same run, in alternating rounds. Two setups:
//   pinned: the backend and the baseline on CPU 1, the CLI on CPU 0 (taskset; the backend, started
//           by `taskset -c 1 aciimg up`, inherits its affinity), one backend CPU: what the backend
//           and client cost when the backend never shares its core. Needs 2 CPUs and taskset.
//   shared: all processes on all CPUs, at the CPU count and at the CLI's default concurrency
//           (2 per backend CPU).
// Each setup also runs bench/floor-client.mjs against the same backend: a client that only asks for
// the files and writes the answers, the least any client in its own process can cost, so the table
// shows how much of the gap to sharp is the CLI's and how much is the design's (node's start-up, the
// socket, the backend).
// Then the CLI's peak RSS for a batch of 1,000 images. Targets (issue 15): pinned >= 0.95x,
// shared >= 0.85x of sharp at the default concurrency; peak RSS <= 150 MB.
// --before REV (default 79357fb, where issue 15 started; `none` to skip) also runs aciimg as it was
// at REV, built in a temporary git worktree with its own state and backend, in the same
// alternating rounds: the numbers before and after, measured in one run.
//
//   node bench/batch.mjs [--images 200] [--rss-images 1000] [--concurrency N] [--rounds 3]
//                        [--setups pinned,shared] [--no-rss] [--before REV|none]
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { link, mkdir, mkdtemp, readdir, rm, symlink } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CPUS, TASKSET, canPin, cli, median, pool, runNode as runNodeIn, spread, timed } from "./harness.mjs";
import { makeImages } from "./images.mjs";

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? Number(args[i + 1]) : fallback;
};
const IMAGES = arg("images", 200);
const RSS_IMAGES = arg("rss-images", 1000);
const LEVELS = args.includes("--concurrency") ? [arg("concurrency", CPUS)] : [CPUS, 2 * CPUS];
const CONCURRENCY = LEVELS.at(-1);
const ROUNDS = arg("rounds", 3);
const setupsArg = args.indexOf("--setups") >= 0 ? (args[args.indexOf("--setups") + 1] ?? "") : "pinned,shared";
const SETUPS = setupsArg.split(",").filter((name) => name === "shared" || (name === "pinned" && canPin));
const WITH_RSS = !args.includes("--no-rss");
const baselineScript = fileURLToPath(new URL("./sharp-batch.mjs", import.meta.url));
const floorScript = fileURLToPath(new URL("./floor-client.mjs", import.meta.url));
const repo = fileURLToPath(new URL("..", import.meta.url));
const beforeArg = args.indexOf("--before") >= 0 ? (args[args.indexOf("--before") + 1] ?? "none") : "79357fb";

const root = await mkdtemp(join(tmpdir(), "aciimg-bench-batch-"));
const env = { ...process.env, ACIIMG_STATE: join(root, "state", "state.json"), ACIIMG_PROVIDER: "local" };

/** Runs the CLI; resolves with its exit code, stdout and stderr (bounded by a timeout). */
function runCli(cliArgs, { timeoutMs = 600_000, wrapTime = false, cpu, extraEnv = {}, side } = {}) {
  return runNode([side?.cli ?? cli, ...cliArgs], { timeoutMs, wrapTime, cpu, extraEnv: { ...extraEnv, ...side?.env } });
}

/**
 * aciimg as it was at `rev`: a detached worktree under the bench's temporary folder, this
 * checkout's node_modules, built with tsc, and a state (so a backend) of its own. Undefined, with
 * the reason in `notes`, when git or the revision is not there (a shallow clone).
 */
function prepareBefore(rev, notes) {
  if (rev === "none") return undefined;
  const tree = join(root, "before-tree");
  try {
    execFileSync("git", ["cat-file", "-e", `${rev}^{commit}`], { cwd: repo, stdio: "ignore" });
    execFileSync("git", ["worktree", "add", "--detach", tree, rev], { cwd: repo, stdio: "ignore" });
  } catch {
    notes.push(
      `before: skipped, revision ${rev} is not in this checkout (a shallow clone?); --before none skips it quietly`,
    );
    return undefined;
  }
  return {
    rev,
    tree,
    cli: join(tree, "bin", "aciimg.js"),
    env: { ACIIMG_STATE: join(root, "state-before", "state.json") },
  };
}

async function buildBefore(before) {
  await symlink(join(repo, "node_modules"), join(before.tree, "node_modules"));
  execFileSync(
    process.execPath,
    [join(repo, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
    { cwd: before.tree, stdio: "inherit" },
  );
}

function removeBefore(before) {
  if (!before) return;
  try {
    execFileSync("git", ["worktree", "remove", "--force", before.tree], { cwd: repo, stdio: "ignore" });
  } catch {
    // the temporary folder goes with root anyway; prune forgets it
  }
  execFileSync("git", ["worktree", "prune"], { cwd: repo, stdio: "ignore" });
}

/** Runs node with `argv` in the bench's environment plus `extraEnv` (harness.mjs runNode). */
function runNode(argv, { extraEnv = {}, ...options } = {}) {
  return runNodeIn(argv, { ...options, env: { ...env, ...extraEnv } });
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
const before = prepareBefore(beforeArg, notes);
/** The CLIs run: this tree (undefined), and the one before when there is one. */
const sides = before ? [undefined, before] : [undefined];
try {
  if (before) {
    console.log(`building aciimg as it was at ${before.rev} in ${before.tree} …`);
    await buildBefore(before);
  }
  const inputs = join(root, "in");
  console.log(`generating ${IMAGES} JPEGs of 2000x1500 in ${inputs} …`);
  await makeImages(inputs, IMAGES);
  const files = (await readdir(inputs)).sort().map((f) => join(inputs, f));

  // Alternate the two (ROUNDS times each) and take the median, so a burst of load on a shared
  // machine does not land on one side only; every round is printed, for the spread.
  const runAciimg = async ({ concurrency, cpu, extraEnv }, name, side) => {
    let result;
    const seconds = await timed(async () => {
      result = await runCli(
        [
          "process",
          inputs,
          "--resize",
          "300x200",
          "-o",
          join(root, `out-cli-${side ? "before-" : ""}${name}`) + "/",
          "--concurrency",
          String(concurrency),
          "--json",
        ],
        { cpu, extraEnv, side },
      );
    });
    const summary = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}").summary;
    if (result.code !== 0 || summary?.ok !== IMAGES)
      throw new Error(`aciimg process${side ? ` at ${side.rev}` : ""} failed (exit ${result.code}): ${result.stderr}`);
    return seconds;
  };
  // The baseline in its own process (so it can be pinned): the work alone, as the script times it,
  // and the whole command (spawn to exit: node, loading sharp, the work), as aciimg is timed.
  const runSharp = async ({ concurrency, cpu, vipsThreads }, name) => {
    let result;
    const command = await timed(async () => {
      result = await runNode(
        [
          baselineScript,
          inputs,
          join(root, `out-sharp-${name}`),
          "--concurrency",
          String(concurrency),
          "--vips-threads",
          String(vipsThreads),
        ],
        { cpu },
      );
    });
    if (result.code !== 0) throw new Error(`the sharp baseline failed (exit ${result.code}): ${result.stderr}`);
    return { work: JSON.parse(result.stdout.trim().split("\n").at(-1)).seconds, command };
  };
  // The floor: the same requests from a client that does nothing else, timed as aciimg is.
  const runFloor = async ({ concurrency, cpu, extraEnv }, name) => {
    let result;
    const seconds = await timed(async () => {
      result = await runNode(
        [floorScript, inputs, join(root, `out-floor-${name}`), "--concurrency", String(concurrency)],
        { cpu, extraEnv },
      );
    });
    if (result.code !== 0) throw new Error(`the floor client failed (exit ${result.code}): ${result.stderr}`);
    return seconds;
  };
  // Start a backend for one setup: `up` pinned to the backend's CPU, which the backend inherits.
  const startBackend = async ({ cpu, extraEnv }) => {
    for (const side of sides) {
      await runCli(["down"], { extraEnv, side });
      const up = await runCli(["up", "--json"], { cpu, extraEnv, side });
      if (up.code !== 0) throw new Error(`aciimg up${side ? ` at ${side.rev}` : ""} failed: ${up.stderr}`);
    }
  };
  const measure = async (label, setup, cliSetup, baselineSetup) => {
    const cliRuns = [];
    const beforeRuns = [];
    const sharpRuns = [];
    const sharpCommands = [];
    const floorRuns = [];
    for (let round = 0; round < ROUNDS; round++) {
      cliRuns.push(await runAciimg(cliSetup, `${setup}-${cliSetup.concurrency}-${round}`));
      floorRuns.push(await runFloor(cliSetup, `${setup}-${cliSetup.concurrency}-${round}`));
      const { work, command } = await runSharp(baselineSetup, `${setup}-${cliSetup.concurrency}-${round}`);
      sharpRuns.push(work);
      sharpCommands.push(command);
      if (before) beforeRuns.push(await runAciimg(cliSetup, `${setup}-${cliSetup.concurrency}-${round}`, before));
    }
    rows.push({
      setup,
      concurrency: cliSetup.concurrency,
      label,
      cli: median(cliRuns),
      cliRuns,
      sharp: median(sharpRuns),
      sharpRuns,
      sharpCommand: median(sharpCommands),
      sharpCommands,
      floor: median(floorRuns),
      before: beforeRuns.length ? median(beforeRuns) : undefined,
    });
  };

  // The backend's libvips threads per image (server.ts): max(1, floor(cpus / (2 per CPU))) = 1.
  const vipsThreads = 1;
  if (SETUPS.includes("pinned")) {
    // One backend CPU: ACIIMG_CPU=1 for `up` and `process` alike (no spec drift), so the
    // backend runs 2 images at once and the CLI's default concurrency is 2.
    const extraEnv = { ACIIMG_CPU: "1" };
    await startBackend({ cpu: 1, extraEnv });
    for (const side of sides) {
      await runCli(
        [
          "process",
          ...files.slice(0, Math.min(10, files.length)),
          "--resize",
          "300x200",
          "-o",
          join(root, `warm-pinned${side ? "-before" : ""}`) + "/",
        ],
        { cpu: 0, extraEnv, side },
      );
    }
    await measure(
      "pinned: CLI on CPU 0, backend and baseline on CPU 1",
      "pinned",
      { concurrency: 2, cpu: 0, extraEnv },
      { concurrency: 2, cpu: 1, vipsThreads },
    );
  }
  if (SETUPS.includes("shared")) {
    await startBackend({});
    // Warm the backend and the page cache with a short run, so the timed run measures steady state.
    for (const side of sides) {
      await runCli(
        [
          "process",
          ...files.slice(0, Math.min(10, files.length)),
          "--resize",
          "300x200",
          "-o",
          join(root, `warm${side ? "-before" : ""}`) + "/",
          "--concurrency",
          String(CONCURRENCY),
        ],
        { side },
      );
    }
    for (const concurrency of LEVELS) {
      await measure(
        `shared: ${CPUS} CPUs, concurrency ${concurrency}`,
        "shared",
        { concurrency },
        { concurrency, vipsThreads },
      );
    }
  }
  const defaultSharp = rows.findLast((row) => row.concurrency === CONCURRENCY)?.sharp;

  const magick = imageMagickVersion();
  if (magick && defaultSharp !== undefined) {
    await mkdir(join(root, "out-magick"));
    const magickSeconds = await timed(() =>
      pool(
        files,
        CONCURRENCY,
        (file) =>
          new Promise((resolve, reject) => {
            const child = spawn("convert", [
              file,
              "-resize",
              "300x200",
              "-background",
              "black",
              "-gravity",
              "center",
              "-extent",
              "300x200",
              join(root, "out-magick", file.split("/").at(-1)),
            ]);
            child.on("error", reject);
            child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`convert exited ${code}`))));
          }),
      ),
    );
    notes.push(
      `ImageMagick convert (${magick.replace(/^Version: /, "")}, concurrency ${CONCURRENCY}): ` +
        `${magickSeconds.toFixed(2)} s, ${(defaultSharp / magickSeconds).toFixed(2)}x of sharp`,
    );
  } else {
    notes.push(
      "ImageMagick: skipped, `convert " +
        "-version` does not report ImageMagick here (apt-get install imagemagick to include it).",
    );
  }

  console.log(
    `\nBatch: ${IMAGES} JPEGs 2000x1500 -> 300x200, ` +
      `${CPUS} CPUs, load average ${loadavg()[0].toFixed(1)}; median of ${ROUNDS} alternating rounds\n`,
  );
  console.log(
    "Both sides are whole commands for aciimg (spawn to exit). " +
      "The sharp baseline is shown two ways: its work alone (timed inside the script, " +
      "no node or sharp start-up) and the whole command (spawn to exit), which is how aciimg is timed.\n",
  );
  console.log(
    "| setup | aciimg s (median) | sharp work s | sharp command s | aciimg img/s | ratio " +
      "vs sharp work | ratio vs sharp command | aciimg rounds (min–max) | per-round ratios (work / command) |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---|---|");
  for (const row of rows) {
    const ratios = row.cliRuns
      .map((x, i) => `${(row.sharpRuns[i] / x).toFixed(2)}/${(row.sharpCommands[i] / x).toFixed(2)}`)
      .join(", ");
    console.log(
      `| ${row.label} | ${row.cli.toFixed(2)} | ${row.sharp.toFixed(2)} | ${row.sharpCommand.toFixed(2)} ` +
        `| ${(IMAGES / row.cli).toFixed(1)} | ${(row.sharp / row.cli).toFixed(2)}x ` +
        `| ${(row.sharpCommand / row.cli).toFixed(2)}x | ${spread(row.cliRuns)} | ${ratios} |`,
    );
  }
  console.log(
    "\nThe floor: bench/floor-client.mjs, the same requests to the same " +
      "backend from a client that does nothing else (no planning, checks, atomic writes or report). Its gap " +
      "to sharp is the design's (node's start-up, the socket, the backend); aciimg's gap to it is the CLI's.\n",
  );
  console.log("| setup | floor s | floor ratio vs sharp work | floor ratio vs sharp command | aciimg − floor s |");
  console.log("|---|---:|---:|---:|---:|");
  for (const row of rows)
    console.log(
      `| ${row.label} | ${row.floor.toFixed(2)} | ${(row.sharp / row.floor).toFixed(2)}x ` +
        `| ${(row.sharpCommand / row.floor).toFixed(2)}x | ${(row.cli - row.floor).toFixed(2)} |`,
    );
  if (before) {
    console.log(
      `\nBefore and after: aciimg as it was at ${before.rev} and as it is, ` +
        `in the same alternating rounds (ratios: against sharp's work / against the sharp command)\n`,
    );
    console.log(`| setup | ${before.rev} s | ${before.rev} ratio | now s | now ratio |`);
    console.log("|---|---:|---:|---:|---:|");
    const ratio = (row, x) => `${(row.sharp / x).toFixed(2)}x / ${(row.sharpCommand / x).toFixed(2)}x`;
    for (const row of rows)
      console.log(
        `| ${row.label} | ${row.before.toFixed(2)} ` +
          `| ${ratio(row, row.before)} | ${row.cli.toFixed(2)} | ${ratio(row, row.cli)} |`,
      );
    console.log("");
  }
  for (const row of rows) {
    const goal = row.setup === "pinned" ? 0.95 : row.concurrency === CONCURRENCY ? 0.85 : undefined;
    if (goal === undefined) continue;
    const [work, command] = [row.sharp / row.cli, row.sharpCommand / row.cli];
    const verdict = (ratio) => `${ratio >= goal ? "met" : "NOT met"} (${ratio.toFixed(2)}x)`;
    console.log(
      `goal >= ${goal.toFixed(2)}x sharp, ${row.label}: ` +
        `against sharp's work alone ${verdict(work)}; against the sharp command ${verdict(command)}; the ` +
        `floor reaches ${(row.sharp / row.floor).toFixed(2)}x / ${(row.sharpCommand / row.floor).toFixed(2)}x`,
    );
  }
  if (SETUPS.length === 0 || (setupsArg.includes("pinned") && !SETUPS.includes("pinned")))
    notes.push(`pinned: skipped, it needs 2 CPUs (${CPUS} here) and ${TASKSET}`);
  if (WITH_RSS) await measureRss(files, notes);
  for (const note of notes) console.log(`note: ${note}`);
} finally {
  for (const side of sides) {
    await runCli(["down"], { side }).catch(() => undefined);
    await runCli(["down"], { extraEnv: { ACIIMG_CPU: "1" }, side }).catch(() => undefined);
  }
  removeBefore(before);
  await rm(root, { recursive: true, force: true });
}

async function measureRss(files, notes) {
  // Peak RSS of the CLI for a batch of RSS_IMAGES: hard links to the generated files (same bytes,
  // no extra disk), measured by /usr/bin/time -v, else unmeasured with a note.
  const many = join(root, "in-many");
  await mkdir(many);
  for (let i = 0; i < RSS_IMAGES; i++)
    await link(files[i % files.length], join(many, `img-${String(i).padStart(5, "0")}.jpg`));
  const hasTime = existsSync("/usr/bin/time");
  const started = performance.now();
  const big = await runCli(
    [
      "process",
      many,
      "--resize",
      "300x200",
      "-o",
      join(root, "out-many") + "/",
      "--concurrency",
      String(CONCURRENCY),
      "--json",
    ],
    { wrapTime: hasTime },
  );
  const seconds = (performance.now() - started) / 1000;
  const bigSummary = JSON.parse(big.stdout.trim().split("\n").at(-1) ?? "{}").summary;
  const rssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(big.stderr)?.[1] ?? NaN);
  console.log(
    `\nCLI batch of ${RSS_IMAGES} images: ` +
      `${bigSummary?.ok ?? 0} ok in ${seconds.toFixed(1)} s (${(RSS_IMAGES / seconds).toFixed(1)} img/s)`,
  );
  // The same 1,000 files through the sharp baseline, for the ratio once the CLI's start-up is amortized.
  const baseline = await runNode([
    baselineScript,
    many,
    join(root, "out-many-sharp"),
    "--concurrency",
    String(CONCURRENCY),
    "--vips-threads",
    "1",
  ]);
  const manySharpSeconds = JSON.parse(baseline.stdout.trim().split("\n").at(-1) ?? "{}").seconds;
  console.log(
    `sharp in one process, same ${RSS_IMAGES} images: ` +
      `${manySharpSeconds.toFixed(1)} s (${(RSS_IMAGES / manySharpSeconds).toFixed(1)} img/s); ` +
      `aciimg process ${(manySharpSeconds / seconds).toFixed(2)}x of it`,
  );
  if (Number.isFinite(rssKb)) {
    const mb = rssKb / 1024;
    console.log(`CLI peak RSS: ${mb.toFixed(1)} MB (target <= 150 MB: ${mb <= 150 ? "met" : "NOT met"})`);
  } else {
    notes.push("peak RSS: /usr/bin/time -v not available; not measured.");
  }
  if (big.code !== 0)
    throw new Error(`the ${RSS_IMAGES}-image batch failed (exit ${big.code}): ${big.stderr.slice(-2000)}`);
}
