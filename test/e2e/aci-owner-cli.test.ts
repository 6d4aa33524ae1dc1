/**
 * Owner-scoped lifecycle through the spawned CLI (issue 11): two state files in one resource group
 * of the ARM simulator (real SDK, real DefaultAzureCredential in the child). The second state's
 * `reap --idle 0s`, `up`, `status` and `down` never delete or replace the first's running group;
 * `down --name default --force` is the explicit way to remove it.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { lastJson, simCli, type CliRun, type SimCli } from "../arm-sim/cli.js";
import { startArmSim, type ArmSim } from "../arm-sim/server.js";

let sim: ArmSim;
let dir: string;
let run: SimCli;

/** The CLI on state file `state` (a.json, b.json) in the one shared resource group. */
function cli(state: string, args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliRun> {
  return run(args, { ACIIMG_STATE: join(dir, state), ...env }, timeoutMs);
}

const json = lastJson;
const ownerOf = (state: string): string =>
  (JSON.parse(readFileSync(join(dir, state), "utf8")) as { owner: string }).owner;

beforeAll(async () => {
  sim = await startArmSim();
  dir = mkdtempSync(join(tmpdir(), "aciimg-e2e-owner-"));
  run = simCli(sim, dir);
});
afterEach(async () => {
  for (const g of sim.groups()) await sim.deleteOutOfBand(g.name);
  for (const state of ["a.json", "b.json"]) rmSync(join(dir, state), { force: true });
  sim.requests.length = 0;
});
afterAll(async () => {
  await sim?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("two state files in one resource group (spawned CLI, ARM simulator)", () => {
  test("reap --idle 0s, up, status and down from the second state leave the first's running group alone", async () => {
    const upA = await cli("a.json", ["up", "--json"]);
    expect(upA.code, upA.stderr).toBe(0);
    const ownerA = ownerOf("a.json");
    expect(sim.group("aciimg-default")?.tags["aciimg-owner"]).toBe(ownerA);
    const groupId = sim.group("aciimg-default")?.id ?? "";

    const reap = await cli("b.json", ["reap", "--idle", "0s", "--verbose"]);
    expect(reap.code, reap.stderr).toBe(0);
    expect(reap.stdout).toBe("");
    expect(reap.stderr).toContain(
      `left aci backend "default" (${groupId}): ` +
        `not ours: it belongs to another aciimg state (owner ${ownerA.slice(0, 8)}…)`,
    );
    const reapJson = await cli("b.json", ["reap", "--idle", "0s", "--json"]);
    expect(json(reapJson)).toMatchObject({
      removed: [],
      foreign: [{ provider: "aci", id: groupId, name: "default", owner: ownerA, reason: "not-ours" }],
    });

    const upB = await cli("b.json", ["up"]);
    expect(upB.code).toBe(5);
    expect(upB.stderr).toContain(
      `container group aciimg-default in resource group ${sim.resourceGroup} ` +
        `belongs to another aciimg state (owner ${ownerA.slice(0, 8)}…): it was left as it is.`,
    );
    expect(upB.stderr).toContain("Use --name to give this state a backend of its own");
    expect(upB.stderr).toContain("`aciimg down --name default --force`");
    const upBJson = await cli("b.json", ["up", "--json"]);
    expect(upBJson.code).toBe(5);
    expect(json(upBJson)).toMatchObject({ error: { code: "E_CONFLICT" } });

    const status = await cli("b.json", ["status"]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain("state:     none");
    expect(status.stdout).toContain(
      `other:     aci backend "default" (${groupId}): ` +
        `not ours: it belongs to another aciimg state (owner ${ownerA.slice(0, 8)}…)`,
    );
    const statusJson = await cli("b.json", ["status", "--json"]);
    expect(json(statusJson)).toMatchObject({
      state: "none",
      others: [{ id: groupId, owner: ownerA, reason: "not-ours" }],
    });

    const down = await cli("b.json", ["down"]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stderr).toContain(`left aci backend "default" (${groupId}): not ours`);
    expect(down.stderr).toContain("`aciimg down --name default --force` deletes it");

    // Nothing of a's was deleted or replaced: one PUT (a's), no DELETE, and a still reaches it.
    expect(sim.count("PUT")).toBe(1);
    expect(sim.count("DELETE")).toBe(0);
    const statusA = await cli("a.json", ["status", "--json"]);
    expect(json(statusA)).toMatchObject({ state: "running", endpoint: json(upA).endpoint, others: [] });

    // With its own --name, the second state gets its own group beside a's.
    const upOwn = await cli("b.json", ["up", "--name", "ci", "--json"]);
    expect(upOwn.code, upOwn.stderr).toBe(0);
    expect(
      sim
        .groups()
        .map((g) => g.name)
        .sort(),
    ).toEqual(["aciimg-ci", "aciimg-default"]);
  });

  test("down --name default --force removes a group that is not ours (a lost state file's)", async () => {
    const upA = await cli("a.json", ["up"]);
    expect(upA.code, upA.stderr).toBe(0);
    rmSync(join(dir, "a.json"));
    // The group has lost its state: nobody's reap deletes it, and down alone does not either.
    const reap = await cli("a.json", ["reap", "--idle", "0s", "--json"], { ACIIMG_CREATE_TIMEOUT: "1ms" });
    expect(json(reap)).toMatchObject({ removed: [], foreign: [{ name: "default", reason: "not-ours" }] });
    expect(sim.groups()).toHaveLength(1);
    const forced = await cli("a.json", ["down", "--name", "default", "--force", "--json"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(json(forced)).toMatchObject({ removed: [{ provider: "aci", name: "default" }], others: [] });
    expect(sim.groups()).toEqual([]);
  });

  test("up --dry-run shows where the owner tag goes", async () => {
    const run = await cli("a.json", ["up", "--dry-run"]);
    expect(run.code, run.stderr).toBe(0);
    const request = JSON.parse(run.stdout) as { body: { tags: Record<string, string> } };
    expect(request.body.tags).toMatchObject({
      "managed-by": "aciimg",
      "aciimg-name": "default",
      "aciimg-owner": "(this state's owner id)",
    });
  });
});
