/**
 * Owner-scoped lifecycle on aci (issue 11): two state files in one resource group of the ARM
 * simulator, each with its own engine on the real provider and the real SDK. Nothing one state
 * does deletes, replaces or adopts the other's running group, or a group made before owner ids.
 */
import { DefaultAzureCredential } from "@azure/identity";
import { ContainerInstanceManagementClient, type ContainerGroup } from "@azure/arm-containerinstance";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { systemClock } from "../../src/clock.js";
import { openEngine } from "../../src/compose.js";
import type { Clock, Engine } from "../../src/engine/types.js";
import { AciimgError } from "../../src/errors.js";
import { TAG_OWNER } from "../../src/providers/aci/spec.js";
import { createFileStateStore } from "../../src/state/file.js";
import { startHarness, type SimHarness } from "../arm-sim/harness.js";

let h: SimHarness;
const engines: Engine[] = [];

beforeAll(async () => {
  h = await startHarness();
});
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
  await h.reset();
});
afterAll(async () => h?.close());

/** Real time an hour ahead: every backend looks long idle to reap. */
const hourAhead: Clock = { now: () => Date.now() + 3_600_000, sleep: (ms, signal) => systemClock.sleep(ms, signal) };

let states = 0;
/** An engine on its own state file in the shared resource group. */
async function stateEngine(
  overrides: { name?: string; clock?: Clock } = {},
): Promise<{ engine: Engine; statePath: string }> {
  const statePath = join(h.dir, `state-${++states}.json`);
  const engine = await openEngine(
    h.config({}, { state: statePath, ...(overrides.name ? { name: overrides.name } : {}) }),
    overrides.clock ? { clock: overrides.clock } : {},
  );
  engines.push(engine);
  return { engine, statePath };
}

const ownerIn = async (statePath: string): Promise<string | undefined> =>
  (await createFileStateStore({ path: statePath }).read()).owner;

/** A group named like aciimg's, put by someone else with `tags` (no backend needs to answer). */
async function putGroup(groupName: string, tags: Record<string, string>): Promise<void> {
  h.sim.faults.unhealthyBackend = true;
  const arm = new ContainerInstanceManagementClient(new DefaultAzureCredential(), h.sim.subscriptionId, {
    endpoint: h.sim.endpoint,
  });
  const group: ContainerGroup = {
    location: "westeurope",
    osType: "Linux",
    ipAddress: { type: "Public", ports: [{ port: 9000 }] },
    containers: [
      { name: "imaginary", image: "img", ports: [{ port: 9000 }], resources: { requests: { cpu: 1, memoryInGB: 1 } } },
    ],
    tags,
  };
  await arm.containerGroups.beginCreateOrUpdateAndWait(h.sim.resourceGroup, groupName, group, {
    updateIntervalInMs: 20,
  });
  h.sim.faults.unhealthyBackend = false;
}

describe("owner ids on aci (two state files, one resource group, ARM simulator)", () => {
  test("the group is tagged with the owner id of the state that made it", async () => {
    const a = await stateEngine();
    const { record } = await a.engine.ensure();
    const owner = await ownerIn(a.statePath);
    expect(owner).toMatch(/^[0-9a-f]{32}$/);
    expect(h.sim.group("aciimg-default")?.tags).toMatchObject({
      "managed-by": "aciimg",
      "aciimg-name": "default",
      [TAG_OWNER]: owner,
    });
    expect(await a.engine.provider.list()).toEqual([expect.objectContaining({ id: record.id, owner })]);
  });

  test("reap --idle 0 and up from a second state never delete or replace the first's running group", async () => {
    const a = await stateEngine();
    const { record: first } = await a.engine.ensure();
    const ownerA = await ownerIn(a.statePath);

    const b = await stateEngine({ clock: hourAhead });
    const reaped = await b.engine.reap({ idleMs: 0 });
    expect(reaped.removed).toEqual([]);
    expect(reaped.foreign).toEqual([
      expect.objectContaining({ id: first.id, name: "default", owner: ownerA, reason: "not-ours" }),
    ]);

    const error = await b.engine.ensure().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AciimgError);
    expect(error).toMatchObject({
      code: "E_CONFLICT",
      detail: { group: "aciimg-default", resourceGroup: h.sim.resourceGroup, owner: ownerA },
    });
    const message = (error as Error).message;
    expect(message).toContain(
      `container group aciimg-default in ` +
        `resource group ${h.sim.resourceGroup} belongs to another aciimg state (owner ${ownerA?.slice(0, 8)}…)`,
    );
    expect(message).toContain("--name");
    expect(message).toContain("aciimg down --name default --force");
    // b's failed create left no claim behind, and b never got an owner-tagged group of its own.
    expect((await createFileStateStore({ path: b.statePath }).read()).backends).toEqual({});

    expect((await b.engine.status()).others).toEqual([expect.objectContaining({ id: first.id, reason: "not-ours" })]);
    expect(await b.engine.down()).toEqual({
      removed: [],
      others: [expect.objectContaining({ id: first.id, reason: "not-ours" })],
    });

    expect(h.sim.count("DELETE")).toBe(0);
    expect(h.sim.count("PUT")).toBe(1);
    // a's backend never stopped: same group, same endpoint, still healthy with a's key.
    const again = await a.engine.ensure();
    expect(again).toMatchObject({ created: false, record: { id: first.id, endpoint: first.endpoint } });
  });

  test("with --name the second state gets a backend of its own; each reaps only its own", async () => {
    const a = await stateEngine({ clock: hourAhead });
    const { record: first } = await a.engine.ensure();
    const b = await stateEngine({ name: "ci", clock: hourAhead });
    const { record: second } = await b.engine.ensure();
    expect(
      h.sim
        .groups()
        .map((g) => g.name)
        .sort(),
    ).toEqual(["aciimg-ci", "aciimg-default"]);

    const byB = await b.engine.reap({ idleMs: 0 });
    expect(byB.removed).toEqual([expect.objectContaining({ id: second.id, reason: "idle" })]);
    expect(byB.foreign).toEqual([expect.objectContaining({ id: first.id, reason: "not-ours" })]);
    expect(h.sim.groups().map((g) => g.name)).toEqual(["aciimg-default"]);
    expect(await a.engine.provider.inspect(first)).toMatchObject({ state: "running" });
  });

  test(
    "a group made before owner ids is listed as such, " + "never reaped or replaced, and down --force removes it",
    async () => {
      await putGroup("aciimg-default", {
        "managed-by": "aciimg",
        "aciimg-name": "default",
        "aciimg-created": "2026-01-01T00:00:00.000Z",
      });
      const b = await stateEngine({ clock: hourAhead });

      const reaped = await b.engine.reap({ idleMs: 0 });
      expect(reaped.removed).toEqual([]);
      expect(reaped.foreign).toEqual([expect.objectContaining({ name: "default", reason: "no-owner" })]);
      const error = await b.engine.ensure().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: "E_CONFLICT" });
      expect((error as Error).message).toMatch(
        /aciimg-default .* was made by an aciimg without owner ids .*aciimg down --name default --force/,
      );
      expect((await b.engine.down()).removed).toEqual([]);
      expect(h.sim.count("DELETE")).toBe(0);

      const forced = await b.engine.down({ force: true });
      expect(forced.removed).toEqual([expect.objectContaining({ name: "default" })]);
      expect(h.sim.groups()).toEqual([]);
      // And now the name is free: this state makes its own.
      await b.engine.ensure();
      expect(h.sim.group("aciimg-default")?.tags[TAG_OWNER]).toBe(await ownerIn(b.statePath));
    },
  );

  test("reap and down touch only groups whose names this state's names make, whatever their tags say", async () => {
    const a = await stateEngine();
    const { record } = await a.engine.ensure();
    const owner = (await ownerIn(a.statePath)) ?? "";
    const tags = (name: string) => ({
      "managed-by": "aciimg",
      "aciimg-name": name,
      "aciimg-created": "2026-01-01T00:00:00.000Z",
      [TAG_OWNER]: owner,
    });
    // Someone else's group (or anyone's) tagged as a lost backend of ours: our owner id, our name.
    await putGroup("aciimg-prod", tags("default"));
    await putGroup("webshop", tags("default"));
    // A pool member of our name that the state lost: a real orphan of ours.
    await putGroup("aciimg2-default", tags("default--2"));

    const reaped = await a.engine.reap({ idleMs: 24 * 3_600_000 });
    expect(reaped.removed).toEqual([expect.objectContaining({ name: "default--2", reason: "orphan" })]);
    expect(reaped.kept).toEqual([expect.objectContaining({ id: record.id, reason: "in-use" })]);
    expect(
      h.sim
        .groups()
        .map((g) => g.name)
        .sort(),
    ).toEqual(["aciimg-default", "aciimg-prod", "webshop"]);

    expect((await a.engine.down()).removed).toEqual([expect.objectContaining({ id: record.id })]);
    expect((await a.engine.down({ force: true })).removed).toEqual([]);
    expect(
      h.sim
        .groups()
        .map((g) => g.name)
        .sort(),
    ).toEqual(["aciimg-prod", "webshop"]);
    // Listed by the name ARM gives the group, not by its tag; one no aciimg name makes is not listed.
    expect((await a.engine.provider.list()).map((ref) => ref.name)).toEqual(["prod"]);
  });

  test("reap believes aciimg-created in bounds: a future date keeps no orphan, an old one is unreported", async () => {
    const a = await stateEngine();
    await a.engine.ensure();
    const owner = (await ownerIn(a.statePath)) ?? "";
    await a.engine.down();
    const tags = (name: string, created: string) => ({
      "managed-by": "aciimg",
      "aciimg-name": name,
      "aciimg-created": created,
      [TAG_OWNER]: owner,
    });
    await putGroup("aciimg-default", tags("default", "2999-01-01T00:00:00.000Z"));
    await putGroup("aciimg2-default", tags("default--2", "1999-01-01T00:00:00.000Z"));

    const reaped = await a.engine.reap({ idleMs: 0 });
    expect(reaped.kept).toEqual([]);
    expect(reaped.removed.map((ref) => [ref.name, ref.reason, ref.createdAt]).sort()).toEqual([
      ["default", "orphan", undefined],
      ["default--2", "orphan", undefined],
    ]);
    expect(h.sim.groups()).toEqual([]);
  });

  test("a same-named group aciimg did not make is left alone; create names it and --name", async () => {
    await putGroup("aciimg-default", { team: "web" });
    const b = await stateEngine();
    const error = await b.engine.ensure().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "E_CONFLICT" });
    expect((error as Error).message).toContain(
      `container group aciimg-default in resource group ${h.sim.resourceGroup} was not made by aciimg`,
    );
    expect((error as Error).message).toContain("--name");
    expect((await b.engine.down({ force: true })).removed).toEqual([]);
    expect(h.sim.groups().map((g) => g.tags)).toEqual([{ team: "web" }]);
  });
});
