/**
 * `--backends N` and `--with-local` through the spawned CLI, the real SDK and the ARM simulator
 * (docs/cli.md "A pool of backends"): N groups made in parallel, each image to the least busy member,
 * a member lost mid-batch costing nothing, a quota stopping the pool's growth but not the batch,
 * every member reaped on its own, and the local backend working while the groups start.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { lastJson, simCli, type CliRun, type SimCli } from "../arm-sim/cli.js";
import { startArmSim, type ArmSim } from "../arm-sim/server.js";
import { outputsIn } from "./cli-harness.js";

let sim: ArmSim;
let dir: string;
let cli: SimCli;
let inputs: string;
const images = 60;

beforeAll(async () => {
  sim = await startArmSim();
  dir = mkdtempSync(join(tmpdir(), "aciimg-e2e-pool-"));
  cli = simCli(sim, dir);
  inputs = join(dir, "in");
  mkdirSync(inputs);
  // The size of imaginary's large fixture (docs/reference/imaginary-api.md), each image distinct.
  for (let i = 0; i < images; i++) {
    const image = sharp({
      create: { width: 1920, height: 1080, channels: 3, background: { r: (i * 37) % 256, g: 90, b: 200 - i } },
    });
    writeFileSync(join(inputs, `img-${String(i).padStart(2, "0")}.jpg`), await image.jpeg({ quality: 80 }).toBuffer());
  }
}, 60_000);
afterEach(async () => {
  for (const g of sim.groups()) await sim.deleteOutOfBand(g.name);
  delete sim.faults.putError;
  delete sim.faults.maxGroups;
  delete sim.faults.pullGate;
  sim.faults.pendingPolls = 1;
  sim.faults.stuckPending = false;
  rmSync(join(dir, "state.json"), { force: true });
  rmSync(join(dir, "out"), { recursive: true, force: true });
  sim.requests.length = 0;
});
afterAll(async () => {
  await sim?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const out = (): string => join(dir, "out");
const batch = (...extra: string[]): string[] => [
  "process",
  inputs,
  "--resize",
  "300x200",
  "-o",
  out(),
  "--json",
  ...extra,
];
/**
 * A blur of each full image first: each image costs enough that
 * most of the batch is still to come when a test acts mid-batch.
 */
const heavyBatch = (...extra: string[]): string[] => ["process", inputs, "--blur", "8", ...batch(...extra).slice(2)];

/** The `--json` lines of a batch: one per file, then the summary. */
function parse(run: CliRun): { files: Array<Record<string, unknown>>; summary: Record<string, unknown> } {
  const lines = run.stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const summary = lines.find((line) => "summary" in line)?.summary as Record<string, unknown>;
  return { files: lines.filter((line) => "input" in line), summary };
}

/** Every input has one ok line and one valid 300×200 JPEG output. */
async function expectEveryOutput(files: Array<Record<string, unknown>>): Promise<void> {
  expect(files).toHaveLength(images);
  expect(new Set(files.map((f) => f.input)).size).toBe(images);
  expect(files.every((f) => f.status === "ok")).toBe(true);
  const written = await outputsIn(out());
  expect(written).toEqual(readdirSync(inputs).sort());
  for (const name of written) {
    const meta = await sharp(readFileSync(join(out(), name))).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", 300, 200]);
  }
}

function perMember(files: Array<Record<string, unknown>>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const file of files) counts[String(file.backend)] = (counts[String(file.backend)] ?? 0) + 1;
  return counts;
}

describe("a pool of backends (spawned CLI, ARM simulator)", () => {
  test("up --backends 3 makes three groups in parallel; " +
    "status lists each; a 60-image batch gives every member a fair share", async () => {
    const up = await cli(["up", "--backends", "3", "--json"], {}, 120_000);
    expect(up.code, up.stderr).toBe(0);
    expect(sim.count("PUT")).toBe(3);
    expect(
      sim
        .groups()
        .map((g) => g.name)
        .sort(),
    ).toEqual(["aciimg-default", "aciimg2-default", "aciimg3-default"]);
    const upped = lastJson(up);
    expect(upped).toMatchObject({ requested: 3, serving: 3 });
    expect((upped.members as Array<Record<string, unknown>>).map((m) => [m.backend, m.state, m.created])).toEqual([
      ["aci-1", "ready", true],
      ["aci-2", "ready", true],
      ["aci-3", "ready", true],
    ]);

    const status = await cli(["status", "--json"]);
    expect(status.code, status.stderr).toBe(0);
    const members = lastJson(status).members as Array<Record<string, unknown>>;
    expect(members.map((m) => [m.backend, m.name, m.state])).toEqual([
      ["aci-1", "default", "running"],
      ["aci-2", "default--2", "running"],
      ["aci-3", "default--3", "running"],
    ]);
    expect(status.stdout).not.toMatch(/apiKey/);
    const text = await cli(["status"]);
    expect(
      text.stdout.match(/^member: +aci-\d "default(--\d)?" running at https:\/\/127\.[\d.]+:9000, idle /gm),
      text.stdout,
    ).toHaveLength(3);

    const run = await cli(batch("--backends", "3"), {}, 120_000);
    expect(run.code, run.stderr).toBe(0);
    expect(sim.count("PUT")).toBe(3);
    const { files, summary } = parse(run);
    await expectEveryOutput(files);
    const counts = perMember(files);
    expect(summary.backends).toEqual(counts);
    // No member under half its even share (60 / 3 / 2 = 10), as each group's backend counts it.
    const served = await Promise.all(
      ["aciimg-default", "aciimg2-default", "aciimg3-default"].map((name) => sim.servedCount(name)),
    );
    expect(served, JSON.stringify(counts)).toEqual([counts["aci-1"], counts["aci-2"], counts["aci-3"]]);
    for (const n of served) expect(n, JSON.stringify(served)).toBeGreaterThanOrEqual(10);
  }, 240_000);

  test("a member deleted out of band mid-batch: " +
    "its images go to the others, every output is written once, exit 0", async () => {
    const up = await cli(["up", "--backends", "3", "--json"], {}, 120_000);
    expect(up.code, up.stderr).toBe(0);
    let deleting: Promise<void> | undefined;
    // A blur of the full image first makes each image cost enough that most of the batch is
    // still to come when every member serves and aci-2 is deleted.
    const run = await cli(heavyBatch("--backends", "3"), {}, 120_000, (_line, stderr) => {
      if (!deleting && /3 of 3 serving/.test(stderr)) deleting = sim.deleteOutOfBand("aciimg2-default");
    });
    await deleting;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/aci-2 vanished/);
    const { files, summary } = parse(run);
    await expectEveryOutput(files);
    expect(summary).toMatchObject({ total: images, ok: images, failed: 0 });
    // Deleting it was not a reason to make another: the two left carried the batch.
    expect(sim.count("PUT")).toBe(3);
    expect(
      sim
        .groups()
        .map((g) => g.name)
        .sort(),
    ).toEqual(["aciimg-default", "aciimg3-default"]);
  }, 240_000);

  test("the quota reached at the third member: two serve, the message says why, the batch succeeds", async () => {
    sim.faults.maxGroups = 2;
    const run = await cli(batch("--backends", "3"), {}, 120_000);
    expect(run.code, run.stderr).toBe(0);
    // The three PUTs race: whichever reaches ARM third meets the quota.
    const refused = /(aci-\d) could not start \(E_QUOTA\): .*quota/.exec(run.stderr)?.[1];
    expect(refused, run.stderr).toBeDefined();
    expect(run.stderr.match(/could not start/g)).toHaveLength(1);
    expect(run.stderr).toMatch(/2 of 3 serving/);
    const { files, summary } = parse(run);
    await expectEveryOutput(files);
    expect(summary.backends).toMatchObject({ [refused as string]: 0 });
    const serving = ["aci-1", "aci-2", "aci-3"].filter((label) => label !== refused);
    expect(Object.keys(perMember(files)).sort()).toEqual(serving);

    // Pre-warming the pool again reuses the two and meets the same quota for the third.
    const upAgain = await cli(["up", "--backends", "3", "--json"], {}, 120_000);
    expect(upAgain.code, upAgain.stderr).toBe(0);
    expect(sim.groups()).toHaveLength(2);
    const members = lastJson(upAgain).members as Array<Record<string, unknown>>;
    expect(members.find((m) => m.backend === refused)).toMatchObject({ state: "failed", error: { code: "E_QUOTA" } });
    expect(members.filter((m) => m.state === "ready").map((m) => [m.backend, m.created])).toEqual(
      serving.map((label) => [label, false]),
    );
    expect(lastJson(upAgain)).toMatchObject({ serving: 2 });
  }, 240_000);

  test("reap --idle 0s removes every member on its own; down removes a whole pool", async () => {
    const up = await cli(["up", "--backends", "3", "--json"], {}, 120_000);
    expect(up.code, up.stderr).toBe(0);
    const reap = await cli(["reap", "--idle", "0s", "--json"]);
    expect(reap.code, reap.stderr).toBe(0);
    expect((lastJson(reap).removed as Array<Record<string, unknown>>).map((r) => r.name).sort()).toEqual([
      "default",
      "default--2",
      "default--3",
    ]);
    expect(sim.groups()).toEqual([]);
    expect(lastJson(await cli(["status", "--json"])).members).toEqual([]);

    // Each member is reaped on its own idle time: one idle for an hour goes, one just used stays.
    const pair = await cli(["up", "--backends", "2", "--json"], {}, 120_000);
    expect(pair.code, pair.stderr).toBe(0);
    const statePath = join(dir, "state.json");
    const state = JSON.parse(readFileSync(statePath, "utf8")) as { backends: Record<string, { lastUsed: string }> };
    (state.backends["default--2"] as { lastUsed: string }).lastUsed = new Date(Date.now() - 3_600_000).toISOString();
    writeFileSync(statePath, JSON.stringify(state), { mode: 0o600 });
    const shrink = await cli(["reap", "--idle", "30m", "--json"]);
    expect(shrink.code, shrink.stderr).toBe(0);
    expect((lastJson(shrink).removed as Array<Record<string, unknown>>).map((r) => [r.name, r.reason])).toEqual([
      ["default--2", "idle"],
    ]);
    expect(sim.groups().map((g) => g.name)).toEqual(["aciimg-default"]);
    expect(
      (lastJson(await cli(["status", "--json"])).members as Array<Record<string, unknown>>).map((m) => m.backend),
    ).toEqual(["aci-1"]);
    expect((await cli(["down", "--json"])).code).toBe(0);

    const again = await cli(["up", "--backends", "2", "--json"], {}, 120_000);
    expect(again.code, again.stderr).toBe(0);
    const down = await cli(["down", "--json"]);
    expect(down.code, down.stderr).toBe(0);
    expect((lastJson(down).removed as Array<Record<string, unknown>>).map((r) => r.name).sort()).toEqual([
      "default",
      "default--2",
    ]);
    expect(sim.groups()).toEqual([]);
  }, 240_000);

  test("--with-local, groups that never come up: " +
    "the local backend does the whole batch; the groups are cancelled and deleted", async () => {
    sim.faults.stuckPending = true;
    const run = await cli(batch("--backends", "2", "--with-local"), {}, 120_000);
    expect(run.code, run.stderr).toBe(0);
    const { files, summary } = parse(run);
    await expectEveryOutput(files);
    expect(summary.backends).toEqual({ "aci-1": 0, "aci-2": 0, local: images });
    // Nothing is left running for a batch that is over: no group, no local backend, no record.
    expect(sim.groups()).toEqual([]);
    expect(sim.count("DELETE")).toBe(2);
    const state = JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as { backends: Record<string, unknown> };
    expect(state.backends).toEqual({});
    expect(readdirSync(join(dir, "local")).filter((f) => f.endsWith(".json"))).toEqual([]);
  }, 240_000);

  test("--with-local with a slow cold start: " +
    "the local backend processes images before any group is healthy, then the groups join", async () => {
    // The groups' image pull lasts until the local backend has written 5 images. Then the local
    // backend is paused (SIGSTOP: a machine whose cores are busy elsewhere) until a group has
    // answered, so the groups joining mid-batch does not depend on how fast this machine is.
    let openPull!: () => void;
    sim.faults.pullGate = new Promise<void>((resolve) => (openPull = resolve));
    let seen = 0;
    let paused: number | undefined;
    let didPause = false;
    const resume = (): void => {
      if (paused !== undefined) process.kill(paused, "SIGCONT");
      paused = undefined;
    };
    const run = await cli(heavyBatch("--backends", "2", "--with-local"), {}, 120_000, (line) => {
      seen += 1;
      if (seen === 5) {
        const state = JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as {
          backends: Record<string, { pid?: number }>;
        };
        paused = state.backends["default--local"]?.pid;
        if (paused !== undefined) didPause = process.kill(paused, "SIGSTOP");
        openPull();
      }
      if (/"backend":"aci-/.test(line)) resume();
    }).finally(resume);
    openPull();
    expect(didPause).toBe(true);
    expect(run.code, run.stderr).toBe(0);
    const { files } = parse(run);
    await expectEveryOutput(files);
    expect(files.slice(0, 5).map((f) => f.backend)).toEqual(["local", "local", "local", "local", "local"]);
    const counts = perMember(files);
    expect(counts.local, JSON.stringify(counts)).toBeGreaterThan(0);
    expect((counts["aci-1"] ?? 0) + (counts["aci-2"] ?? 0), JSON.stringify(counts)).toBeGreaterThan(0);
    expect(run.stderr).toMatch(/local serving[\s\S]*aci-\d serving/);
  }, 240_000);

  test("every member deleted mid-batch: the pool starts them again (bounded) and the batch completes", async () => {
    const up = await cli(["up", "--backends", "2", "--json"], {}, 120_000);
    expect(up.code, up.stderr).toBe(0);
    let deleting: Promise<unknown> | undefined;
    const run = await cli(heavyBatch("--backends", "2"), {}, 120_000, (_line, stderr) => {
      if (!deleting && /2 of 2 serving/.test(stderr))
        deleting = Promise.all(["aciimg-default", "aciimg2-default"].map((name) => sim.deleteOutOfBand(name)));
    });
    await deleting;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/every backend had vanished; starting aci-\d again/);
    const { files } = parse(run);
    await expectEveryOutput(files);
    expect(sim.count("PUT")).toBeGreaterThanOrEqual(3);
    expect(sim.count("PUT")).toBeLessThanOrEqual(4);
  }, 240_000);

  test("no member can start: the batch fails with the first member's error, " +
    "every member's reason given, in --json too", async () => {
    sim.faults.maxGroups = 0;
    const run = await cli(batch("--backends", "2"), {}, 120_000);
    expect(run.code, run.stderr).toBe(6);
    const error = lastJson(run).error as Record<string, string>;
    expect(error.code).toBe("E_QUOTA");
    expect(error.message).toMatch(/aci-1: .*quota[\s\S]*aci-2: .*quota/);
    expect(sim.groups()).toEqual([]);
  }, 240_000);

  test("Ctrl-C stops a pool batch: every input counted, " +
    "nothing partial, the local member taken down, the groups kept for reap", async () => {
    const up = await cli(["up", "--backends", "2", "--json"], {}, 120_000);
    expect(up.code, up.stderr).toBe(0);
    let signalled = false;
    const run = await cli(heavyBatch("--backends", "2", "--with-local"), {}, 120_000, (_line, _stderr, child) => {
      if (!signalled) {
        signalled = true;
        child.kill("SIGINT");
      }
    });
    expect(run.code, run.stderr).toBe(130);
    expect(lastJson(run).error).toMatchObject({ code: "E_ABORTED" });
    const { files, summary } = parse(run);
    expect(summary).toMatchObject({ total: images, stopped: "SIGINT" });
    expect(Number(summary.ok) + Number(summary.cancelled)).toBe(images);
    expect(files).toHaveLength(images);
    // Each output written is whole, and only those reported ok were written.
    const ok = files.filter((f) => f.status === "ok").map((f) => String(f.output));
    const written = await outputsIn(out());
    expect(written.map((name) => join("out", name))).toEqual(ok.map((o) => o.replace(/^.*\/out\//, "out/")).sort());
    for (const name of written) expect((await sharp(readFileSync(join(out(), name))).metadata()).width).toBe(300);
    const state = JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as { backends: Record<string, unknown> };
    expect(Object.keys(state.backends).sort()).toEqual(["default", "default--2"]);
    expect(readdirSync(join(dir, "local")).filter((f) => f.endsWith(".json"))).toEqual([]);
    expect(sim.groups()).toHaveLength(2);
  }, 240_000);

  test("two batches started together on one state share the pool: each member is created once", async () => {
    const [first, second] = await Promise.all([
      cli(
        ["process", inputs, "--resize", "300x200", "-o", join(dir, "out", "a"), "--json", "--backends", "2"],
        {},
        120_000,
      ),
      cli(
        ["process", inputs, "--resize", "300x200", "-o", join(dir, "out", "b"), "--json", "--backends", "2"],
        {},
        120_000,
      ),
    ]);
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    expect(sim.count("PUT")).toBe(2);
    expect(await outputsIn(join(dir, "out", "a"))).toHaveLength(images);
    expect(await outputsIn(join(dir, "out", "b"))).toHaveLength(images);
  }, 240_000);

  test("another pipeline's state with the same name: " +
    "its groups are not ours, so no member starts, and nothing is deleted", async () => {
    const other = await cli(
      ["up", "--backends", "2", "--json"],
      { ACIIMG_STATE: join(dir, "other-state.json") },
      120_000,
    );
    expect(other.code, other.stderr).toBe(0);
    const run = await cli(batch("--backends", "2"), {}, 120_000);
    expect(run.code, run.stderr).toBe(5);
    expect(lastJson(run).error).toMatchObject({ code: "E_CONFLICT" });
    expect(
      sim
        .groups()
        .map((g) => g.name)
        .sort(),
    ).toEqual(["aciimg-default", "aciimg2-default"]);
    expect(sim.count("DELETE")).toBe(0);
    rmSync(join(dir, "other-state.json"), { force: true });
  }, 240_000);

  test("up --backends 3 --dry-run shows one masked ARM request per member and makes nothing", async () => {
    const run = await cli(["up", "--backends", "3", "--dry-run"]);
    expect(run.code, run.stderr).toBe(0);
    const requests = run.stdout
      .trim()
      .split("\n")
      .map(
        (line) =>
          JSON.parse(line) as {
            method: string;
            url: string;
            body: { properties: { ipAddress: { dnsNameLabel: string } } };
          },
      );
    const names = requests.map((r) => /containerGroups\/([^?]+)/.exec(r.url)?.[1] ?? "");
    expect(requests.map((r, i) => [r.method, names[i]])).toEqual([
      ["PUT", "aciimg-default"],
      ["PUT", "aciimg2-default"],
      ["PUT", "aciimg3-default"],
    ]);
    // ARM's rules (Azure resource-name-rules), written out here rather than imported from src.
    for (const name of names) expect(name).toMatch(/^(?!-)(?!.*-$)(?!.*--)[a-z0-9-]{1,63}$/);
    for (const r of requests)
      expect(r.body.properties.ipAddress.dnsNameLabel).toMatch(/^[a-z][a-z0-9-]{3,61}[a-z0-9]$/);
    expect(run.stdout).not.toMatch(/BEGIN|IMAGINARY_SECRET":"[^*]/);
    expect(sim.count("PUT")).toBe(0);
  });

  test("the local provider refuses a pool, saying why", async () => {
    const run = await cli(batch("--backends", "2"), { AZURE_SUBSCRIPTION_ID: "", AZURE_RESOURCE_GROUP: "" });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--backends: expected 1 on the local provider/);
    const bad = await cli(batch("--backends", "0"), { AZURE_SUBSCRIPTION_ID: "", AZURE_RESOURCE_GROUP: "" });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--backends: expected a whole number of backends from 1 to 20/);
  });
});
