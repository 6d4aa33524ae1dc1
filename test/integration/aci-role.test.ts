/**
 * The shipped custom role (deploy/aciimg-operator.role.json) grants exactly what the aci provider
 * calls. The real provider runs a whole lifecycle on the ARM simulator; every ARM request it sent
 * (the simulator records them all) is mapped to the RBAC action ARM checks for it. A request the
 * table cannot map fails the test, every action used must be in the role, and every action in the
 * role must be used (or be listed, with its reason, in `justified`).
 *
 * Action names: Microsoft's resource provider operations for Microsoft.ContainerInstance
 * (learn.microsoft.com/azure/role-based-access-control/permissions/containers). The managed-identity
 * token endpoint is a separate server (test/arm-sim/identity.ts), never in `sim.requests`, and
 * needs no ARM action.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startHarness, type SimHarness } from "../arm-sim/harness.js";

interface RoleDefinition {
  Name: string;
  IsCustom: boolean;
  Description: string;
  Actions: string[];
  NotActions: string[];
  DataActions: string[];
  NotDataActions: string[];
  AssignableScopes: string[];
}

const role = JSON.parse(
  readFileSync(new URL("../../deploy/aciimg-operator.role.json", import.meta.url), "utf8"),
) as RoleDefinition;
const azureDocs = readFileSync(new URL("../../docs/azure.md", import.meta.url), "utf8");

const SUB = "/subscriptions/[^/]+";
const GROUPS = `${SUB}/resourceGroups/[^/]+/providers/Microsoft\\.ContainerInstance/containerGroups`;
const route = (method: string, path: string, action: string, call: string) => ({
  method,
  path: new RegExp(`^${path}$`, "i"),
  action,
  call,
});

/** ARM request → the action ARM authorizes it with, and the aciimg call that sends it. */
const routes = [
  route(
    "GET",
    GROUPS,
    "Microsoft.ContainerInstance/containerGroups/read",
    "containerGroups.listByResourceGroup and its nextLink pages (list, reap)",
  ),
  route(
    "GET",
    `${GROUPS}/[^/]+`,
    "Microsoft.ContainerInstance/containerGroups/read",
    "containerGroups.get (inspect, " +
      "the check for a same-named group, the create watcher; the SDK's final GET after the PUT)",
  ),
  route(
    "PUT",
    `${GROUPS}/[^/]+`,
    "Microsoft.ContainerInstance/containerGroups/write",
    "containerGroups.beginCreateOrUpdate (create)",
  ),
  route(
    "DELETE",
    `${GROUPS}/[^/]+`,
    "Microsoft.ContainerInstance/containerGroups/delete",
    "containerGroups.beginDeleteAndWait (down, reap, removing a failed create)",
  ),
  route(
    "GET",
    `${GROUPS}/[^/]+/containers/[^/]+/logs`,
    "Microsoft.ContainerInstance/containerGroups/containers/logs/read",
    "containers.listLogs (logs, the last lines in a timeout message)",
  ),
  // The Azure-AsyncOperation URL of a PUT (and of a 202 DELETE) is subscription-level, not under the group.
  route(
    "GET",
    `${SUB}/providers/Microsoft\\.ContainerInstance/locations/[^/]+/operations/[^/]+`,
    "Microsoft.ContainerInstance/locations/operations/read",
    "the SDK polling a long-running operation's status",
  ),
];

/** Role actions no recorded request uses, each with why it is granted anyway. None today. */
const justified = new Map<string, string>();

function actionFor(method: string, path: string): string | undefined {
  return routes.find((r) => r.method === method && r.path.test(path))?.action;
}

let h: SimHarness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

describe("the aciimg operator role", () => {
  test("is a custom role in the format `az role definition create` takes, with no wildcard and no data actions", () => {
    expect(Object.keys(role).sort()).toEqual([
      "Actions",
      "AssignableScopes",
      "DataActions",
      "Description",
      "IsCustom",
      "Name",
      "NotActions",
      "NotDataActions",
    ]);
    expect(role.Name).toBe("aciimg operator");
    expect(role.IsCustom).toBe(true);
    expect(role.Actions.filter((a) => a.includes("*"))).toEqual([]);
    expect([role.NotActions, role.DataActions, role.NotDataActions]).toEqual([[], [], []]);
    expect(role.AssignableScopes).toEqual(["/subscriptions/SUBSCRIPTION_ID"]);
    expect(new Set(role.Actions).size).toBe(role.Actions.length);
  });

  test("maps every request in the real Azure recordings (paths as ARM serves them, not as the simulator does)", () => {
    const files = ["create", "get", "delete"].map(
      (n) => new URL(`../arm-sim/recordings/recording_containergroups_${n}_test.json`, import.meta.url),
    );
    const entries = files.flatMap(
      (f) =>
        (JSON.parse(readFileSync(f, "utf8")) as { Entries: Array<{ RequestMethod: string; RequestUri: string }> })
          .Entries,
    );
    const mapped = entries.map((e) => ({
      request: `${e.RequestMethod} ${new URL(e.RequestUri).pathname}`,
      action: actionFor(e.RequestMethod, new URL(e.RequestUri).pathname),
    }));
    expect(mapped.filter((m) => m.action === undefined)).toEqual([]);
    expect(new Set(mapped.map((m) => m.action))).toContain("Microsoft.ContainerInstance/locations/operations/read");
  });

  test("covers every ARM request of a whole lifecycle, and holds nothing the lifecycle does not use", async () => {
    const provider = h.provider();
    const createOptions = { apiKey: "role-key", owner: "role-test-owner" };

    // create → inspect → logs → list → delete (ARM's 200 + body).
    const record = await provider.create(h.spec(), createOptions);
    expect((await provider.inspect(record)).state).toBe("running");
    await provider.logs!(record, 5);
    await provider.list();
    await provider.delete(record);

    // A delete that ARM runs as a long-running operation (202 + Azure-AsyncOperation).
    const again = await provider.create(h.spec(), createOptions);
    h.sim.faults.deleteVariant = 202;
    await provider.delete(again);
    h.sim.faults.deleteVariant = 200;

    // A create that ends Failed: aciimg reads the events and deletes the group.
    h.sim.faults.provisionFailure = {
      code: "ContainerGroupProvisioningFailed",
      message: "The container group failed to start.",
      events: [{ name: "Failed", message: "Failed to pull image" }],
    };
    await expect(provider.create(h.spec(), createOptions)).rejects.toMatchObject({ code: "E_PROVISION" });
    delete h.sim.faults.provisionFailure;
    expect(h.sim.groups()).toEqual([]);

    const requests = h.sim.requests.map((r) => ({
      request: `${r.method} ${r.path}`,
      action: actionFor(r.method, r.path),
    }));
    expect(requests.filter((r) => r.action === undefined)).toEqual([]);
    const used = new Set(requests.map((r) => r.action as string));

    expect([...used].filter((a) => !role.Actions.includes(a))).toEqual([]);
    expect(role.Actions.filter((a) => !used.has(a) && !justified.has(a))).toEqual([]);
    // Each route was exercised, so the table above is not carrying dead rows either.
    expect(
      routes
        .filter((r) => !h.sim.requests.some((q) => q.method === r.method && r.path.test(q.path)))
        .map((r) => r.call),
    ).toEqual([]);
  });

  test("docs/azure.md's Setup lists each action of the role, and no longer asks for Contributor", () => {
    const start = azureDocs.indexOf("## Setup\n");
    const setup = azureDocs.slice(start, azureDocs.indexOf("\n## ", start + 1));
    expect(start).toBeGreaterThanOrEqual(0);
    for (const action of role.Actions) expect(setup).toContain(`\`${action}\``);
    expect(setup).toContain("deploy/aciimg-operator.role.json");
    expect(setup).not.toMatch(/--role Contributor/);
  });
});
