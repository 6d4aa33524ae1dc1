// Pool benchmark (issue 14 point 5): `aciimg process --backends N [--with-local]` against the ARM
// simulator, each remote member behind a link emulator (bench/link.mjs: a round trip and a rate,
// both printed and self-checked), on the same generated 2000x1500 JPEGs -> 300x200, in one run:
// local only (the baseline), 1 remote, 2 remotes, --with-local + 2 remotes, and the window
// (default vs a fixed --concurrency, also on small images where the round trip dominates) —
// remotes pre-warmed with `up --backends 2`, so cold start
// is excluded — then --with-local + 2 remotes created by the batch with a simulated cold start.
// Roles are pinned where the machine allows: the CLI and the local backend on CPU 0 ("this
// machine"), the simulated groups and the link emulator on CPU 1 ("Azure").
//
//   node bench/pool.mjs [--quick] [--images 100] [--rounds 3] [--rtt 40] [--mbit 200]
//                       [--cold-start-ms 20000] [--cold-images N] [--small-images 150]
import { spawn, spawnSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { existsSync } from "node:fs";
import { link as hardLink, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { checkLink, createLink, startLinkProxy } from "./link.mjs";
import { makeImages } from "./images.mjs";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? Number(args[i + 1]) : fallback;
};
const IMAGES = arg("images", quick ? 30 : 100);
const ROUNDS = arg("rounds", quick ? 1 : 3);
const RTT_MS = arg("rtt", 40);
const MBIT = arg("mbit", 200);
const COLD_START_MS = arg("cold-start-ms", quick ? 3000 : 20_000);
/** Default: enough that local only would take ~1.3x (cold start + 3 s), measured from row (a). */
const COLD_IMAGES = arg("cold-images", undefined);
const SMALL_IMAGES = arg("small-images", quick ? 60 : 150);
const CPUS = availableParallelism();
const repo = fileURLToPath(new URL("..", import.meta.url));
const cli = join(repo, "bin", "aciimg.js");
const simDir = join(repo, "bench", ".sim");

// The simulator is TypeScript: compiled with the repository's tsc into bench/.sim/ (git-ignored),
// keeping the repository's layout. containers.ts finds the /start.sh stand-in next to itself, so
// the compiled tree gets a link to the real one (which finds bin/aciimg.js from its real path).
const compiled = spawnSync(
  join(repo, "node_modules", ".bin", "tsc"),
  ["-p", join(repo, "bench", "tsconfig.sim.json")],
  { stdio: "inherit", timeout: 120_000 },
);
if (compiled.status !== 0) throw new Error("compiling the ARM simulator (bench/tsconfig.sim.json) failed");
const startSh = join(simDir, "test", "arm-sim", "start-sh.mjs");
if (!existsSync(startSh)) await symlink(join(repo, "test", "arm-sim", "start-sh.mjs"), startSh);
const { startArmSim } = await import(join(simDir, "test", "arm-sim", "server.js"));
const { launchBackend } = await import(join(simDir, "test", "arm-sim", "containers.js"));
const { createTestCa } = await import(join(simDir, "test", "arm-sim", "ca.js"));
const { CA_DIR_ENV } = await import(join(simDir, "test", "arm-sim", "global-setup.js"));
const { FAST_ENV } = await import(join(simDir, "test", "arm-sim", "harness.js"));

const canPin = CPUS >= 2 && existsSync("/usr/bin/taskset");
/** Pins every thread of `pid` to `cpus` (a taskset list); children started later inherit it. */
function pin(pid, cpus) {
  if (canPin && pid)
    spawnSync("/usr/bin/taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore", timeout: 5000 });
}

/** Small JPEGs (640x480, q80, ~50 KB): the work and the bytes are small, the round trip is not. */
async function makeSmallImages(dir, count) {
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    await sharp({
      create: { width: 640, height: 480, channels: 3, noise: { type: "gaussian", mean: 100 + (i % 50), sigma: 30 } },
    })
      .blur(1.5)
      .jpeg({ quality: 80 })
      .toFile(join(dir, `small-${String(i).padStart(4, "0")}.jpg`));
  }
}

const benchStarted = performance.now();
const root = await mkdtemp(join(tmpdir(), "aciimg-bench-pool-"));
const notes = [];
let sim;
const proxies = new Map(); // the group's reported IP (the proxy's) -> { proxy, link }
/** Which link the remote members' proxies use now: each its own, one shared by all, or none (plain loopback). */
let linkMode = "own";
const sharedLink = createLink({ rttMs: RTT_MS, mbitPerSecond: MBIT });
const noLink = createLink({ rttMs: 0, mbitPerSecond: 1e6 });

/** A container as the simulator launches it, behind its own link emulator on a fresh 127.x.y.z:9000. */
async function launchBehindLink(request, signal) {
  const container = await launchBackend(request, signal);
  pin(container.pid, "1");
  const own = createLink({ rttMs: RTT_MS, mbitPerSecond: MBIT });
  const linkOf = () => (linkMode === "own" ? own : linkMode === "shared" ? sharedLink : noLink);
  for (let attempt = 1; ; attempt++) {
    const host = `127.${randomInt(1, 255)}.${randomInt(1, 255)}.${randomInt(1, 255)}`;
    try {
      const proxy = await startLinkProxy({
        host,
        port: container.port,
        target: { host: container.ip, port: container.port },
        linkOf,
      });
      proxies.set(host, { proxy, link: own });
      return {
        ...container,
        ip: host,
        stop: async () => {
          proxies.delete(host);
          await proxy.close();
          await container.stop();
        },
      };
    } catch (error) {
      if (error?.code !== "EADDRINUSE" || attempt >= 8) {
        await container.stop();
        throw error;
      }
    }
  }
}

/**
 * The environment of a CLI pointed at the simulator (as test/arm-sim/cli.ts makes it). The local
 * provider's runs keep their own state file: one state holds one provider's backend of a name.
 */
const cliEnv = (isLocal, extra) => {
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: root,
    ...sim.env(),
    ...FAST_ENV,
    ACIIMG_STATE: join(root, "state", isLocal ? "local.json" : "state.json"),
    ...extra,
  };
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined));
};

/**
 * Runs the CLI pinned to CPU 0; resolves with exit code, stdout, stderr, wall seconds, and the
 * time (s from spawn) each stdout/stderr line came. Killed after `timeoutMs`.
 */
function runCli(cliArgs, { timeoutMs = 300_000, env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const [command, argv] = canPin
      ? ["/usr/bin/taskset", ["-c", "0", process.execPath, cli, ...cliArgs]]
      : [process.execPath, [cli, ...cliArgs]];
    const started = performance.now();
    const child = spawn(command, argv, {
      cwd: root,
      env: cliEnv(cliArgs.join(" ").includes("--provider local"), env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines = [];
    const errLines = [];
    createInterface({ input: child.stdout }).on("line", (line) =>
      lines.push({ at: (performance.now() - started) / 1000, line }),
    );
    createInterface({ input: child.stderr }).on("line", (line) =>
      errLines.push({ at: (performance.now() - started) / 1000, line }),
    );
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const seconds = (performance.now() - started) / 1000;
      resolve({
        code,
        lines,
        errLines,
        seconds,
        stdout: lines.map((l) => l.line).join("\n"),
        stderr: errLines.map((l) => l.line).join("\n"),
      });
    });
  });
}

/** A `process --json` run: wall and batch seconds, per-member counts, and each file's member in completion order. */
async function batch(inputs, out, extra, expected, env = {}) {
  const run = await runCli(["process", inputs, "--resize", "300x200", "-o", out + "/", "--json", ...extra], { env });
  const parsed = run.lines.map(({ at, line }) => ({ at, value: JSON.parse(line) }));
  const summary = parsed.find((p) => p.value.summary)?.value.summary;
  if (run.code !== 0 || summary?.ok !== expected)
    throw new Error(
      `aciimg process ${extra.join(" ")} failed (exit ${run.code}, ` +
        `${summary?.ok ?? 0}/${expected} ok): ${run.stderr.slice(-2000)}`,
    );
  const files = parsed.filter((p) => !p.value.summary).map((p) => ({ at: p.at, backend: p.value.backend ?? "—" }));
  const counts = summary.backends ?? { [extra.includes("local") ? "local" : "aci-1"]: summary.ok };
  return { ...run, summary, files, counts };
}

/** Peak connections per remote member since the last reset (the most requests it had in flight). */
function peaks() {
  const byName = Object.fromEntries(sim.groups().map((g) => [g.name, proxies.get(g.ip)?.proxy.peakConnections() ?? 0]));
  return { "aci-1": byName["aciimg-default"], "aci-2": byName["aciimg2-default"] };
}
const resetPeaks = () => {
  for (const { proxy } of proxies.values()) proxy.reset();
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmtCounts = (counts) =>
  Object.entries(counts)
    .sort()
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");

try {
  const inputs = join(root, "in");
  console.log(`generating ${IMAGES} JPEGs of 2000x1500 in ${inputs} …`);
  await makeImages(inputs, IMAGES);
  const files = (await readdir(inputs)).sort();
  const meanBytes =
    (await Promise.all(files.map((f) => stat(join(inputs, f))))).reduce((sum, s) => sum + s.size, 0) / files.length;
  const smallInputs = join(root, "in-small");
  await makeSmallImages(smallInputs, SMALL_IMAGES);
  const smallFiles = await readdir(smallInputs);
  const smallMeanBytes =
    (await Promise.all(smallFiles.map((f) => stat(join(smallInputs, f))))).reduce((sum, s) => sum + s.size, 0) /
    smallFiles.length;

  // From here the bench process (simulator, containers, link emulators) runs on CPU 1.
  pin(process.pid, "1");
  if (!canPin)
    notes.push(`not pinned: ${CPUS < 2 ? `${CPUS} CPU` : "no /usr/bin/taskset"}; every role shares every core.`);

  const check = await checkLink({ rttMs: RTT_MS, mbitPerSecond: MBIT }, { host: "127.0.0.1" });
  console.log(
    `link emulator self-check (set: ` +
      `${RTT_MS} ms RTT, ${MBIT} Mbit/s per direction): round trip ${check.rttMs.toFixed(1)} ms (median of 5), ` +
      `first reply on a new connection ${check.firstReplyMs.toFixed(1)} ms (handshake + 1 RTT), ` +
      `16 MiB upload at ${check.mbitPerSecond.toFixed(0)} Mbit/s`,
  );

  // The simulator's CA, as global-setup.ts makes it for vitest: the CLI trusts it through NODE_EXTRA_CA_CERTS.
  const caDir = join(root, "ca");
  await mkdir(caDir);
  const ca = createTestCa();
  await writeFile(join(caDir, "ca.pem"), ca.certPem, { mode: 0o600 });
  await writeFile(join(caDir, "ca-key.pem"), ca.keyPem, { mode: 0o600 });
  process.env[CA_DIR_ENV] = caDir;
  sim = await startArmSim({ launcher: launchBehindLink });
  if (!sim.env().NODE_EXTRA_CA_CERTS) throw new Error("the simulator has no CA file for the CLI to trust");

  // Pre-warm: both groups running (cold start excluded from these rows), and the local backend
  // (the `local` provider's, for the baseline) started by a CLI on CPU 0, so it runs there.
  const up = await runCli(["up", "--backends", "2", "--json"]);
  if (up.code !== 0) throw new Error(`aciimg up --backends 2 failed: ${up.stderr}`);
  const upLocal = await runCli(["up", "--provider", "local", "--json"]);
  if (upLocal.code !== 0) throw new Error(`aciimg up --provider local failed: ${upLocal.stderr}`);
  const warmIn = join(root, "warm-in");
  await mkdir(warmIn);
  for (const f of files.slice(0, 10)) await hardLink(join(inputs, f), join(warmIn, f));
  await batch(warmIn, join(root, "warm-out"), ["--backends", "2", "--with-local"], Math.min(10, files.length));

  const setups = [
    { key: "a", name: "local only (`--provider local`)", args: ["--provider", "local"] },
    { key: "b", name: "1 remote (`--backends 1`: a pool of one, adaptive window)", args: ["--backends", "1"] },
    {
      key: "b-fixed",
      name: "1 remote, `--concurrency 2` (the fixed 2 per CPU a single backend had)",
      args: ["--backends", "1", "--concurrency", "2"],
    },
    {
      key: "b-wide",
      name: "1 remote, `--concurrency 16` (a fixed window wide enough for the link)",
      args: ["--backends", "1", "--concurrency", "16"],
    },
    { key: "b-nolink", name: "1 remote, no link emulation (plain loopback)", args: ["--backends", "1"], mode: "none" },
    { key: "c", name: "2 remotes (adaptive window)", args: ["--backends", "2"] },
    {
      key: "c-fixed",
      name: "2 remotes, `--concurrency 4` (the old fixed window: 2 per member)",
      args: ["--backends", "2", "--concurrency", "4"],
    },
    {
      key: "c-shared",
      name: "2 remotes sharing one link (adaptive window)",
      args: ["--backends", "2"],
      mode: "shared",
    },
    { key: "d", name: "`--with-local` + 2 remotes", args: ["--backends", "2", "--with-local"] },
    { key: "f-local", small: true, name: "small: local only", args: ["--provider", "local"] },
    { key: "f-1", small: true, name: "small: 1 remote (adaptive window)", args: ["--backends", "1"] },
    {
      key: "f-1-fixed",
      small: true,
      name: "small: 1 remote, `--concurrency 2` (fixed 2 in flight)",
      args: ["--backends", "1", "--concurrency", "2"],
    },
    { key: "f-2", small: true, name: "small: 2 remotes, adaptive window", args: ["--backends", "2"] },
    {
      key: "f-2-fixed",
      small: true,
      name: "small: 2 remotes, `--concurrency 4` (fixed 2 per member)",
      args: ["--backends", "2", "--concurrency", "4"],
    },
  ];
  const results = new Map(setups.map((s) => [s.key, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order each round, so drift on a shared machine does not land on one setup only.
    const order = round % 2 === 0 ? setups : [...setups].reverse();
    for (const setup of order) {
      linkMode = setup.mode ?? "own";
      resetPeaks();
      const out = join(root, `out-${setup.key}-${round}`);
      const run = await batch(setup.small ? smallInputs : inputs, out, setup.args, setup.small ? SMALL_IMAGES : IMAGES);
      results
        .get(setup.key)
        .push({ batchSeconds: run.summary.ms / 1000, wallSeconds: run.seconds, counts: run.counts, peaks: peaks() });
      await rm(out, { recursive: true, force: true });
    }
  }
  linkMode = "own";
  function rateOf(key) {
    const setup = setups.find((x) => x.key === key);
    return (setup.small ? SMALL_IMAGES : IMAGES) / median(results.get(key).map((r) => r.batchSeconds));
  }

  // Cold start: no group exists; the batch creates both, each `COLD_START_MS` in "Pulling",
  // while the local member works from the first second. A bigger batch (hard links to the same
  // files), so the remotes can join before it ends; its baseline is local only on the same files.
  const down = await runCli(["down", "--json"]);
  if (down.code !== 0) throw new Error(`aciimg down failed: ${down.stderr}`);
  const many = join(root, "in-many");
  await mkdir(many);
  const coldImages = COLD_IMAGES ?? Math.ceil(rateOf("a") * (COLD_START_MS / 1000 + 3) * 1.3);
  for (let i = 0; i < coldImages; i++)
    await hardLink(join(inputs, files[i % files.length]), join(many, `img-${String(i).padStart(5, "0")}.jpg`));
  sim.faults.startDelayMs = COLD_START_MS;
  // The product's own ARM poll interval (2 s), not the tests' 20 ms: polling is CPU on this machine.
  const cold = await batch(many, join(root, "out-cold"), ["--backends", "2", "--with-local"], coldImages, {
    ACIIMG_POLL_INTERVAL: undefined,
  });
  delete sim.faults.startDelayMs;
  const firstRemote = cold.files.findIndex((f) => f.backend !== "local");
  const joined = cold.errLines
    .filter((l) => /aci-\d serving/.test(l.line))
    .map((l) => `${l.line.replace(/^aciimg: /, "").replace(/;.*/, "")} at ${l.at.toFixed(1)} s`);
  await rm(join(root, "out-cold"), { recursive: true, force: true });
  const coldBase = await batch(many, join(root, "out-cold-local"), ["--provider", "local"], coldImages);

  // The tables.
  console.log(
    `\nPool: ${IMAGES} JPEGs 2000x1500 (mean ${(meanBytes / 1e6).toFixed(2)} MB) ` +
      `-> 300x200; remote members each behind an emulated ${RTT_MS} ms RTT, ${MBIT} Mbit/s link; ` +
      `${CPUS} CPUs, load average ${loadavg()[0].toFixed(1)}; median of ${ROUNDS} alternating round(s); ` +
      `remotes pre-warmed with \`up --backends 2\` (no cold start in these rows)\n`,
  );
  console.log(
    "| setup | images/s (batch) | vs local only | images/s (wall, " +
      "with CLI start) | per member (median run) | peak in flight per remote | all rounds, batch s |",
  );
  console.log("|---|---:|---:|---:|---|---|---|");
  const rate = rateOf;
  for (const setup of setups) {
    if (setup.key === "f-local") {
      console.log(
        `\nWindow on small images: ${SMALL_IMAGES} JPEGs 640x480 (mean ${(smallMeanBytes / 1e3).toFixed(0)} ` +
          `kB) -> 300x200, same links; ratios against local only on these images\n`,
      );
      console.log(
        "| setup | images/s (batch) | vs local only | images/s (wall, " +
          "with CLI start) | per member (median run) | peak in flight per remote | all rounds, batch s |",
      );
      console.log("|---|---:|---:|---:|---|---|---|");
    }
    const base = rate(setup.small ? "f-local" : "a");
    const runs = results.get(setup.key);
    const mid = [...runs].sort((x, y) => x.batchSeconds - y.batchSeconds)[Math.floor(runs.length / 2)];
    const peakText = setup.args.includes("local")
      ? "—"
      : Object.entries(mid.peaks)
          .filter(([label, n]) => n && mid.counts[label])
          .map(([label, n]) => `${label} ${n}`)
          .join(", ");
    console.log(
      `| (${setup.key}) ${setup.name} ` +
        `| ${rate(setup.key).toFixed(1)} | ${(rate(setup.key) / base).toFixed(2)}x ` +
        `| ${((setup.small ? SMALL_IMAGES : IMAGES) / median(runs.map((r) => r.wallSeconds))).toFixed(1)} ` +
        `| ${fmtCounts(mid.counts)} | ${peakText} | ${runs.map((r) => r.batchSeconds.toFixed(2)).join(", ")} |`,
    );
  }
  const coldRate = coldImages / cold.seconds;
  const coldBaseRate = coldImages / coldBase.seconds;
  console.log(
    `\nCold start: ${coldImages} images (the same files, hard-linked); ` +
      `both groups created by the batch, each ${(COLD_START_MS / 1000).toFixed(0)} s in "Pulling", ` +
      `polled every 2 s (the default); wall time from spawn to exit\n`,
  );
  console.log("| setup | seconds | images/s | vs local only, same files | per member |");
  console.log("|---|---:|---:|---:|---|");
  console.log(
    `| (e0) local only (\`--provider local\`) ` +
      `| ${coldBase.seconds.toFixed(1)} | ${coldBaseRate.toFixed(1)} | 1.00x | local ${coldImages} |`,
  );
  console.log(
    `| (e) \`--with-local\` + 2 remotes, ` +
      `${(COLD_START_MS / 1000).toFixed(0)} s cold start | ${cold.seconds.toFixed(1)} ` +
      `| ${coldRate.toFixed(1)} | ${(coldRate / coldBaseRate).toFixed(2)}x | ${fmtCounts(cold.counts)} |`,
  );
  // Once the remotes serve: the images finished from the first remote one to the last, per second.
  const after = firstRemote < 0 ? [] : cold.files.slice(firstRemote);
  const afterRate = after.length > 1 ? (after.length - 1) / (after.at(-1).at - after[0].at) : undefined;
  const localBefore = firstRemote < 0 ? cold.files.length : firstRemote;
  const beforeRate =
    firstRemote > 1 ? (firstRemote - 1) / (cold.files[firstRemote - 1].at - cold.files[0].at) : undefined;
  console.log(
    `\n(e): local finished ${localBefore} images before the first remote one` +
      (firstRemote < 0
        ? " (the remotes never joined: the batch ended first)"
        : ` (at ${cold.files[firstRemote].at.toFixed(1)} s)`) +
      `; ${joined.join("; ") || "no remote joined"}.`,
  );
  if (beforeRate && afterRate)
    console.log(
      `(e): ${beforeRate.toFixed(1)} images/s with local alone, ${afterRate.toFixed(1)} images/s once the ` +
        `remotes served (${(afterRate / beforeRate).toFixed(2)}x), counted from the --json lines as they came.`,
    );
  notes.push(
    canPin
      ? 'pinned: the CLI and the local backend on CPU 0 ("this machine"), ' +
          'the simulated groups, the ARM simulator and the link emulators on CPU 1 ("Azure").'
      : "not pinned: the CLI, the local backend, the groups and the link emulators share every core.",
    "on 2 cores the remote members share one CPU: adding a member adds no CPU. " +
      "The rows show how much a pool overlaps the link's latency and how it spreads the images, " +
      "not scale-out; real groups each bring their own CPU.",
    "each remote member has its own emulated link (c-shared: one link for both, " +
      "as when this machine's uplink is the narrow part). The link rate bounds a member at about " +
      `${((MBIT * 1e6) / 8 / meanBytes).toFixed(0)} ` +
      `images/s (${(meanBytes / 1e6).toFixed(2)} MB up per image at ${MBIT} Mbit/s).`,
    "one remote backend without `--concurrency` is a pool of one: its window adapts as a pool member's does. " +
      "(b-fixed) is the fixed 2 per backend CPU it had before; (b-wide) a fixed window covering the link.",
    "peak in flight = the most TCP connections the member's link emulator had open " +
      "at once (the client opens one per request in flight): the widest its window got, not its final size.",
  );
  for (const note of notes) console.log(`note: ${note}`);
  console.log(`bench took ${((performance.now() - benchStarted) / 1000).toFixed(0)} s`);
} finally {
  if (sim) {
    await runCli(["down"], { timeoutMs: 60_000 }).catch(() => undefined);
    await runCli(["down", "--provider", "local"], { timeoutMs: 60_000 }).catch(() => undefined);
    await sim.close();
  }
  await rm(root, { recursive: true, force: true });
}
