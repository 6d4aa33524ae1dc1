/**
 * The spawned `aciimg` CLI on the `aci` provider, against the ARM simulator: the real SDK and the
 * real DefaultAzureCredential (managed identity) run in the child, trusting the simulator through
 * NODE_EXTRA_CA_CERTS, and the simulator's containers are real backend processes.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { lastJson, simCli, type SimCli } from "../arm-sim/cli.js";
import { armErrors, startArmSim, type ArmSim } from "../arm-sim/server.js";

let sim: ArmSim;
let dir: string;
let input: string;
let cli: SimCli;

const json = lastJson;

beforeAll(async () => {
  sim = await startArmSim();
  dir = mkdtempSync(join(tmpdir(), "aciimg-e2e-aci-"));
  cli = simCli(sim, dir);
  input = join(dir, "in.jpg");
  writeFileSync(
    input,
    await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 200, g: 80, b: 40 } } })
      .jpeg()
      .toBuffer(),
  );
});
afterEach(async () => {
  for (const g of sim.groups()) await sim.deleteOutOfBand(g.name);
  for (const key of ["putError", "stuckPending", "throttle", "serverError", "provisionFailure"] as const)
    delete sim.faults[key];
  if (existsSync(join(dir, "state.json"))) unlinkSync(join(dir, "state.json"));
  sim.requests.length = 0;
});
afterAll(async () => {
  await sim?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("aciimg on aci (spawned CLI, ARM simulator)", () => {
  test("up → process → status → reap: one group is created, used, reported, and reaped when idle", async () => {
    const up = await cli(["up", "--json"]);
    expect(up.code, up.stderr).toBe(0);
    expect(json(up)).toMatchObject({ provider: "aci", created: true });
    expect(String(json(up).endpoint)).toMatch(/^https:\/\/127\.\d+\.\d+\.\d+:9000$/);
    expect(sim.count("PUT")).toBe(1);

    const out = join(dir, "out.jpg");
    const processed = await cli(["process", input, "--resize", "200x150", "-o", out]);
    expect(processed.code, processed.stderr).toBe(0);
    const meta = await sharp(out).metadata();
    expect([meta.width, meta.height]).toEqual([200, 150]);

    const status = await cli(["status", "--json"]);
    expect(status.code, status.stderr).toBe(0);
    expect(json(status)).toMatchObject({ provider: "aci", state: "running", endpoint: json(up).endpoint });
    expect(status.stdout).not.toContain("IMAGINARY_SECRET");

    const keep = await cli(["reap", "--idle", "1h", "--json"]);
    expect(keep.code, keep.stderr).toBe(0);
    expect(json(keep).removed).toEqual([]);
    expect(sim.groups()).toHaveLength(1);

    const reap = await cli(["reap", "--idle", "0s", "--json"]);
    expect(reap.code, reap.stderr).toBe(0);
    expect(json(reap).removed).toEqual([expect.objectContaining({ provider: "aci", name: "default", reason: "idle" })]);
    expect(sim.groups()).toEqual([]);
    expect(sim.count("PUT")).toBe(1);
  });

  test("20 concurrent `aciimg process` on a cold backend cause exactly one PUT", async () => {
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        cli(["process", input, "--resize", "64x48", "-o", join(dir, `c${i}.jpg`)], {}, 120_000),
      ),
    );
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    expect(sim.count("PUT")).toBe(1);
    expect(sim.groups()).toHaveLength(1);
    for (let i = 0; i < 20; i++) expect((await sharp(join(dir, `c${i}.jpg`)).metadata()).width).toBe(64);
  }, 180_000);

  test("down deletes the group now; logs reads the container's log first", async () => {
    const up = await cli(["up"]);
    expect(up.code, up.stderr).toBe(0);
    const logs = await cli(["logs", "--tail", "20"]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toContain("listening");
    const down = await cli(["down"]);
    expect(down.code, down.stderr).toBe(0);
    expect(sim.groups()).toEqual([]);
    expect(sim.count("DELETE")).toBe(1);
  });

  test("reap finds an orphan by its owner tag after the state lost its record", async () => {
    const up = await cli(["up"]);
    expect(up.code, up.stderr).toBe(0);
    // The record goes (a create killed before it was written), the state's owner id stays.
    const state = JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as { backends: object };
    writeFileSync(join(dir, "state.json"), JSON.stringify({ ...state, backends: {} }));
    // A tagged group younger than the create timeout may be another process's create in flight: kept.
    const young = await cli(["reap", "--json"]);
    expect(young.code, young.stderr).toBe(0);
    expect(json(young).kept).toEqual([
      expect.objectContaining({ provider: "aci", name: "default", reason: "provisioning" }),
    ]);
    expect(sim.groups()).toHaveLength(1);
    // Older than the create timeout, nothing can still be creating it: an orphan, deleted.
    const reap = await cli(["reap", "--json"], { ACIIMG_CREATE_TIMEOUT: "1ms" });
    expect(reap.code, reap.stderr).toBe(0);
    expect(json(reap).removed).toEqual([
      expect.objectContaining({ provider: "aci", name: "default", reason: "orphan" }),
    ]);
    expect(sim.groups()).toEqual([]);
  });

  test("up --dry-run prints the ARM PUT with the key masked and creates nothing", async () => {
    const run = await cli(["up", "--dry-run"]);
    expect(run.code, run.stderr).toBe(0);
    const request = JSON.parse(run.stdout) as {
      method: string;
      url: string;
      body: { properties: { containers: Array<{ properties: { environmentVariables: unknown[] } }> } };
    };
    expect(request.method).toBe("PUT");
    expect(request.url).toBe(
      `${sim.endpoint}/subscriptions/${sim.subscriptionId}/resourceGroups/${sim.resourceGroup}` +
        `/providers/Microsoft.ContainerInstance/containerGroups/aciimg-default?api-version=2023-05-01`,
    );
    expect(request.body.properties.containers[0]?.properties.environmentVariables).toContainEqual({
      name: "IMAGINARY_SECRET",
      secureValue: "***",
    });
    expect(sim.requests).toEqual([]);
  });

  test("quota reached: exit 6, the message says what to do, no group, and the state claims no backend", async () => {
    sim.faults.putError = { ...armErrors.quota };
    const up = await cli(["up"]);
    expect(up.code, up.stderr).toBe(6);
    expect(up.stderr).toMatch(/quota .* is used up/);
    expect(sim.groups()).toEqual([]);
    const status = await cli(["status", "--json"]);
    expect(json(status)).toMatchObject({ state: "none" });
  });

  test("stuck in Pending past --timeout: exit 4, the half-made group is deleted and the message says so", async () => {
    sim.faults.stuckPending = true;
    // --timeout bounds the create from the same-named group's lookup on, once the Azure SDK is
    // loaded (which took seconds of it on a loaded machine). Before the PUT, the bound is a different
    // path ("still not started", nothing to delete): 5 s is a margin of several times the lookup, so
    // the group is made and stuck when the bound ends.
    const up = await cli(["up", "--timeout", "5s"]);
    expect(up.code, up.stderr).toBe(4);
    expect(up.stderr).toMatch(/still Pending after 5s.*was deleted/s);
    expect(sim.groups()).toEqual([]);
    expect(json(await cli(["status", "--json"]))).toMatchObject({ state: "none" });
  });

  type Inject = () => unknown;
  test.each<[string, Inject, Record<string, string>, number, RegExp]>([
    ["capacity", () => (sim.faults.putError = { ...armErrors.capacity }), {}, 6, /no capacity .*another --location/s],
    [
      "Docker Hub pull limit",
      () => (sim.faults.putError = { ...armErrors.registry }),
      {},
      6,
      /Docker Hub.*ghcr\.io.*az acr import/s,
    ],
    [
      "inaccessible image",
      () => (sim.faults.putError = { ...armErrors.inaccessibleImage }),
      {},
      6,
      /not accessible.*--image/s,
    ],
    [
      "missing role",
      () => (sim.faults.putError = { ...armErrors.forbidden }),
      {},
      5,
      /"aciimg operator".*few minutes/s,
    ],
    [
      "subscription never used ACI",
      () => (sim.faults.putError = { ...armErrors.notRegistered }),
      {},
      5,
      /az provider register --namespace Microsoft\.ContainerInstance --wait/,
    ],
    ["429 without Retry-After", () => (sim.faults.throttle = { count: 1, methods: ["PUT"] }), {}, 6, /throttling/],
    [
      "500 after retries",
      () => (sim.faults.serverError = { count: 10, status: 500, methods: ["PUT"] }),
      {},
      6,
      /500.*after retries/s,
    ],
    [
      "missing resource group",
      () => undefined,
      { AZURE_RESOURCE_GROUP: "no-such-rg" },
      5,
      /az group create -n no-such-rg/,
    ],
    [
      "provisioning Failed",
      () =>
        (sim.faults.provisionFailure = {
          code: "ContainerGroupProvisioningFailed",
          message: "The container group failed to start.",
          events: [{ name: "Failed", message: "Failed to pull image: manifest unknown" }],
        }),
      {},
      4,
      /Failed to pull image: manifest unknown.*was deleted/s,
    ],
  ])(
    "%s: documented exit code and advice, no group left, no backend in the state",
    async (_, inject, env, exit, message) => {
      inject();
      const up = await cli(["up"], env);
      expect(up.code, up.stderr).toBe(exit);
      expect(up.stderr).toMatch(message);
      expect(sim.groups()).toEqual([]);
      const state = existsSync(join(dir, "state.json"))
        ? (JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as { backends: object })
        : { backends: {} };
      expect(state.backends).toEqual({});
    },
  );

  test("never-registered subscription under --json: last line is E_CONFIG with the ARM code and command", async () => {
    sim.faults.putError = { ...armErrors.notRegistered };
    const up = await cli(["up", "--json"]);
    expect(up.code, up.stderr).toBe(5);
    expect(json(up)).toMatchObject({
      error: {
        code: "E_CONFIG",
        message: expect.stringContaining("az provider register --namespace Microsoft.ContainerInstance --wait"),
        detail: { armCode: "MissingSubscriptionRegistration" },
      },
    });
    expect(sim.groups()).toEqual([]);
  });

  test("no Azure credentials: exit 5 explaining az login, service principal and managed identity", async () => {
    const up = await cli(["up"], { IDENTITY_ENDPOINT: undefined, IDENTITY_HEADER: undefined, PATH: "/nonexistent" });
    expect(up.code, up.stderr).toBe(5);
    expect(up.stderr).toMatch(/no Azure credentials.*az login.*AZURE_CLIENT_SECRET.*managed identity/s);
    expect(sim.requests).toEqual([]);
  });
});

describe("backend names ARM would refuse (spawned CLI, ARM simulator)", () => {
  test.each([
    ["--name", ["--name", "web--2"], {}],
    ["ACIIMG_NAME", [], { ACIIMG_NAME: "-web" }],
    ['"name" in', ["--config", "names.json"], {}],
  ])("a bad name from %s is a usage error naming the rule, before any ARM call", async (from, args, env) => {
    writeFileSync(join(dir, "names.json"), JSON.stringify({ name: "Web_1" }));
    const up = await cli(["up", ...args, "--json"], env);
    expect(up.code, up.stderr).toBe(2);
    expect(json(up).error).toMatchObject({ code: "E_USAGE" });
    expect(up.stderr).toContain(`aciimg: ${from}`);
    expect(up.stderr).toContain(
      ": expected 1-32 lowercase letters, digits or '-', not starting or ending with '-', no '--'",
    );
    expect(sim.requests).toEqual([]);
  });
});
