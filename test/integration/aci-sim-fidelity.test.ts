/**
 * Fidelity: the simulator answers the requests of the real Azure recordings
 * (test/arm-sim/recordings, copied from the Azure SDK repository) with the recorded status codes, LRO headers and body
 * fields. If this fails, the simulator drifted from real ACI and the provider tests prove less.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startArmSim, type ArmSim } from "../arm-sim/server.js";

const here = dirname(fileURLToPath(import.meta.url));
const recordings = join(here, "..", "arm-sim", "recordings");

interface Entry {
  RequestUri: string;
  RequestMethod: string;
  RequestBody: unknown;
  StatusCode: number;
  ResponseHeaders: Record<string, string | string[]>;
  ResponseBody: unknown;
}

function entries(file: string): Entry[] {
  return (JSON.parse(readFileSync(join(recordings, file), "utf8")) as { Entries: Entry[] }).Entries;
}

/** Features the recorded request used that aciimg never sends (managed identity, volumes, Log Analytics). */
const unsupported =
  /^(identity|properties\.(volumes|diagnostics)|properties\.containers\.\d+\.properties\.volumeMounts)(\.|$)/;

/** Leaf paths of a JSON value, e.g. properties.containers.0.properties.image. */
function leafPaths(value: unknown, prefix = ""): string[] {
  if (value === null || typeof value !== "object") return [prefix];
  const keys = Object.keys(value);
  if (keys.length === 0) return [prefix];
  return keys.flatMap((key) => leafPaths((value as Record<string, unknown>)[key], prefix ? `${prefix}.${key}` : key));
}

function at(value: unknown, path: string): unknown {
  return path
    .split(".")
    .reduce<unknown>(
      (v, key) => (v !== null && typeof v === "object" ? (v as Record<string, unknown>)[key] : undefined),
      value,
    );
}

let sim: ArmSim;
let token: string;
const recordedSub = "azure_subscription_id";
const recordedRg = "myjstest";

beforeAll(async () => {
  sim = await startArmSim({ resourceGroups: [recordedRg] });
  // No backend process for nginx: the container "runs" without one (faults.unhealthyBackend).
  sim.faults.unhealthyBackend = true;
  const response = await fetch(
    `${sim.identityEndpoint}?api-version=2019-08-01&resource=${encodeURIComponent(sim.endpoint)}`,
    {
      headers: { "X-IDENTITY-HEADER": sim.identityHeader },
    },
  );
  token = ((await response.json()) as { access_token: string }).access_token;
});
afterAll(async () => sim?.close());

async function replay(
  entry: Entry,
  uri = entry.RequestUri,
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const url = uri
    .replace("https://management.azure.com", sim.endpoint)
    .replace(`/subscriptions/${recordedSub}/`, `/subscriptions/${sim.subscriptionId}/`);
  const response = await fetch(url, {
    method: entry.RequestMethod,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: entry.RequestBody ? JSON.stringify(entry.RequestBody) : undefined,
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

function expectSameFields(recorded: unknown, actual: unknown): void {
  const missing = leafPaths(recorded)
    .filter((path) => !unsupported.test(path))
    .filter((path) => at(actual, path) === undefined);
  expect(missing, "fields the real service returned that the simulator does not").toEqual([]);
}

describe("ARM simulator vs real ACI recordings", () => {
  const create = entries("recording_containergroups_create_test.json");
  const put = create[0]!;
  const polls = create.filter((e) => e.RequestUri.includes("/operations/"));
  const finalGet = create[create.length - 1]!;

  test(
    "PUT → 201 with an absolute Azure-AsyncOperation " + "URL (api-version=2018-06-01) and the Pending group",
    async () => {
      const response = await replay(put);
      expect(response.status).toBe(put.StatusCode);
      const asyncOp = response.headers.get("azure-asyncoperation");
      const recordedOp = put.ResponseHeaders["Azure-AsyncOperation"] as string;
      expect(asyncOp).toMatch(
        new RegExp(
          `^${sim.endpoint}/subscriptions/${sim.subscriptionId}/providers/Microsoft\\.ContainerInstance` +
            `/locations/eastus2/operations/[0-9a-f-]+\\?api-version=2018-06-01$`,
        ),
      );
      expect(recordedOp).toMatch(
        new RegExp(
          /\/providers\/Microsoft\.ContainerInstance/.source +
            /\/locations\/eastus2\/operations\/[0-9a-f-]+\?api-version=2018-06-01$/.source,
        ),
      );
      expect(response.headers.get("location")).toBeNull();
      expect(response.headers.get("retry-after")).toBeNull();
      expect(response.headers.get("x-ms-request-id")).toBeTruthy();
      expectSameFields(put.ResponseBody, response.body);
      expect(at(response.body, "properties.provisioningState")).toBe("Pending");
      expect(at(response.body, "properties.instanceView")).toEqual({ events: [], state: "Pending" });
      expect(at(response.body, "properties.ipAddress.ip")).toBeUndefined();

      // Operation status: Pending first, then Succeeded with the container's events, as recorded.
      const first = await replay(polls[0]!, asyncOp!);
      expect(first.status).toBe(polls[0]!.StatusCode);
      expect(Object.keys(first.body as object).sort()).toEqual(Object.keys(polls[0]!.ResponseBody as object).sort());
      expect(at(first.body, "status")).toBe("Pending");
      let last = first;
      for (let i = 0; i < 200 && at(last.body, "status") !== "Succeeded"; i++) last = await replay(polls[0]!, asyncOp!);
      const recordedLast = polls[polls.length - 1]!;
      expect(at(last.body, "status")).toBe(at(recordedLast.ResponseBody, "status"));
      expectSameFields(recordedLast.ResponseBody, last.body);

      // The final GET the SDK makes after Succeeded.
      const final = await replay(finalGet);
      expect(final.status).toBe(finalGet.StatusCode);
      expectSameFields(finalGet.ResponseBody, final.body);
      for (const path of [
        "properties.provisioningState",
        "properties.instanceView.state",
        "properties.containers.0.properties.instanceView.currentState.state",
        "type",
        "name",
      ]) {
        expect(at(final.body, path), path).toEqual(at(finalGet.ResponseBody, path));
      }
      expect(at(final.body, "id")).toBe(
        (at(finalGet.ResponseBody, "id") as string).replace(recordedSub, sim.subscriptionId),
      );
    },
  );

  test("GET of a running group has every field of the recorded GET", async () => {
    const get = entries("recording_containergroups_get_test.json")[0]!;
    const response = await replay(get);
    expect(response.status).toBe(get.StatusCode);
    expectSameFields(get.ResponseBody, response.body);
  });

  test("DELETE → 200 with the deleted group and no LRO headers; the list is then empty", async () => {
    const [del, list] = entries("recording_containergroups_delete_test.json") as [Entry, Entry];
    const response = await replay(del);
    expect(response.status).toBe(del.StatusCode);
    expect(response.headers.get("azure-asyncoperation")).toBeNull();
    expect(response.headers.get("location")).toBeNull();
    // The recorded group was a GPU group from another test; compare the fields both share.
    expect(at(response.body, "properties.provisioningState")).toBe(
      at(del.ResponseBody, "properties.provisioningState"),
    );
    expect(at(response.body, "type")).toBe(at(del.ResponseBody, "type"));
    const after = await replay(list);
    expect(after.status).toBe(list.StatusCode);
    expect(after.body).toEqual(list.ResponseBody);
  });

  test(
    "errors use ARM's shape: 404 ResourceNotFound for a " + "missing group, ResourceGroupNotFound for a missing RG",
    async () => {
      const get = entries("recording_containergroups_get_test.json")[0]!;
      const missing = await replay(get, get.RequestUri.replace("mycontainerGroupxxx", "nope"));
      expect(missing.status).toBe(404);
      expect(at(missing.body, "error.code")).toBe("ResourceNotFound");
      const noRg = await replay(get, get.RequestUri.replace(recordedRg, "no-such-rg"));
      expect(noRg.status).toBe(404);
      expect(at(noRg.body, "error.code")).toBe("ResourceGroupNotFound");
    },
  );

  test(
    "a PUT ARM would refuse is refused with 400: " +
      "a group name with '--', a DNS label that starts with a digit, too many or too long tags",
    async () => {
      const put = entries("recording_containergroups_create_test.json")[0]!;
      const body = put.RequestBody as {
        tags?: Record<string, string>;
        properties: { ipAddress?: { dnsNameLabel?: string } };
      };
      const named = (name: string, changed: typeof body = body) =>
        replay({ ...put, RequestBody: changed }, put.RequestUri.replace("mycontainerGroupxxx", name));
      const refusals = [
        await named("aciimg-default--2"),
        await named("-aciimg"),
        await named("a".repeat(64)),
        await named("ok-name", {
          ...body,
          properties: { ...body.properties, ipAddress: { ...body.properties.ipAddress, dnsNameLabel: "2abcd" } },
        }),
        await named("ok-name", {
          ...body,
          tags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`t${i}`, "v"])),
        }),
        await named("ok-name", { ...body, tags: { ["n".repeat(513)]: "v" } }),
        await named("ok-name", { ...body, tags: { t: "v".repeat(257) } }),
      ];
      expect(refusals.map((r) => [r.status, at(r.body, "error.code")])).toEqual([
        [400, "InvalidResourceName"],
        [400, "InvalidResourceName"],
        [400, "InvalidResourceName"],
        [400, "InvalidDnsNameLabel"],
        [400, "InvalidTagCount"],
        [400, "InvalidTagNameLength"],
        [400, "InvalidTagValueLength"],
      ]);
      expect(sim.groups().filter((g) => g.name === "ok-name" || g.name.includes("--"))).toEqual([]);
      // At the limits, the same PUT is accepted (and the group removed again).
      const edge = await named("ok-name", {
        ...body,
        tags: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`${i}`.padEnd(512, "n"), "v".repeat(256)])),
      });
      expect(edge.status).toBe(201);
      await sim.deleteOutOfBand("ok-name");
    },
  );
});
