/**
 * The simulator faults a pool of backends (`--backends N`) is tested against, driven through the
 * real ACI provider: a slow image pull for one member, the subscription's quota reached at the k-th
 * group, one member failing at provisioning, and which member served an image request.
 */
import type { TokenCredential } from "@azure/core-auth";
import sharp from "sharp";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { BackendRecord } from "../../src/engine/types.js";
import type { AciimgError } from "../../src/errors.js";
import { createImaginaryClient } from "../../src/client/client.js";
import { launchBackend, type LaunchRequest } from "../arm-sim/containers.js";
import { defaultFaults } from "../arm-sim/faults.js";
import { startHarness, type SimHarness } from "../arm-sim/harness.js";

/** Every container the simulator launched, by the API key in its environment (one key per member). */
const launches: string[] = [];
const keyOf = (request: LaunchRequest) => request.env.find((e) => e.name === "IMAGINARY_SECRET")?.secureValue ?? "";

let h: SimHarness;
beforeAll(async () => {
  h = await startHarness({
    launcher: (request, signal) => (launches.push(keyOf(request)), launchBackend(request, signal)),
  });
});
afterEach(async () => {
  await h.reset();
  launches.length = 0;
});
afterAll(async () => h?.close());

/** Member `name` of the pool: its group is `aciimg-<name>`, its key `key-<name>`. */
function create(name: string, onPhase?: (phase: string) => void): Promise<BackendRecord> {
  return h
    .provider()
    .create({ ...h.spec(), name }, { owner: "test-owner", apiKey: `key-${name}`, ...(onPhase ? { onPhase } : {}) });
}

const failure = (promise: Promise<unknown>): Promise<AciimgError> =>
  promise.then(
    () => expect.fail("create should have failed"),
    (e: unknown) => e as AciimgError,
  );

/** A credential with a token from `harness`'s own managed-identity endpoint. */
function identityOf(harness: SimHarness): TokenCredential {
  return {
    getToken: async () => {
      const url =
        `${harness.sim.identityEndpoint}?api-version=2019-08-01` +
        `&resource=${encodeURIComponent(harness.sim.endpoint)}`;
      const response = await fetch(url, {
        headers: { "X-IDENTITY-HEADER": harness.sim.identityHeader },
        signal: AbortSignal.timeout(5000),
      });
      const { access_token: token } = (await response.json()) as { access_token: string };
      return { token, expiresOnTimestamp: Date.now() + 3600_000 };
    },
  };
}

/** Resolves when `create` reports `phase` (the provider saw that container event). */
function phaseSeen(phase: string): { onPhase: (p: string) => void; seen: Promise<void> } {
  let resolve!: () => void;
  const seen = new Promise<void>((r) => (resolve = r));
  return { onPhase: (p) => p === phase && resolve(), seen };
}

describe("cold start per group (startDelayMs)", () => {
  test("one member's image pull keeps it Creating and Pulling while the other runs", async () => {
    await create("a");
    // b's pull lasts until the test has looked at it: no race with a loaded machine's clock.
    let openPull!: () => void;
    h.sim.faults.pullGate = new Promise<void>((resolve) => (openPull = resolve));
    const pulling = phaseSeen("Pulling");
    const b = create("b", pulling.onPhase);
    await Promise.race([pulling.seen, b.then(() => expect.fail("b came up before its pull was let through"))]);
    const slow = h.sim.group("aciimg-b");
    expect(h.sim.group("aciimg-a")).toMatchObject({ provisioningState: "Succeeded", runtimeState: "Running" });
    expect(slow).toMatchObject({ provisioningState: "Creating", containerState: "Waiting" });
    expect(slow?.ip).toBeUndefined();
    expect(slow?.events.map((e) => e.name)).toEqual(["Pulling"]);
    expect(launches).toEqual(["key-a"]);

    openPull();
    await b;
    expect(h.sim.group("aciimg-b")).toMatchObject({ provisioningState: "Succeeded", runtimeState: "Running" });
    expect(launches).toEqual(["key-a", "key-b"]);
  });

  test("a number delays every group and the `*` key is the default of a record", async () => {
    // An hour: a group that is given it is still pulling when the test looks, on any machine.
    const hour = 3_600_000;
    h.sim.faults.startDelayMs = { "*": hour, "aciimg-fast": 0 };
    await create("fast");
    expect(h.sim.group("aciimg-fast")?.plan.startDelayMs).toBe(0);
    for (const [name, delay] of [
      ["other", { "*": hour, "aciimg-fast": 0 }],
      ["third", hour],
    ] as const) {
      h.sim.faults.startDelayMs = delay;
      const pulling = phaseSeen("Pulling");
      const slow = failure(create(name, pulling.onPhase));
      await Promise.race([pulling.seen, slow.then((e) => expect.fail(`create ended before Pulling: ${e.message}`))]);
      const stillPulling = { provisioningState: "Creating", containerState: "Waiting", plan: { startDelayMs: hour } };
      expect(h.sim.group(`aciimg-${name}`)).toMatchObject(stillPulling);
      await h.sim.deleteOutOfBand(`aciimg-${name}`);
      expect((await slow).name).toBe("AciimgError");
    }
    expect(launches).toEqual(["key-fast"]);
  });

  test("a group deleted out of band during its pull never starts a process", async () => {
    // A pull longer than the test may run: the delete below returns only if it cuts the pull short.
    h.sim.faults.startDelayMs = 3_600_000;
    const pulling = phaseSeen("Pulling");
    const b = failure(create("b", pulling.onPhase));
    await Promise.race([pulling.seen, b.then((e) => expect.fail(`create ended before Pulling: ${e.message}`))]);
    await h.sim.deleteOutOfBand("aciimg-b");
    expect((await b).name).toBe("AciimgError");
    expect(h.sim.groups()).toEqual([]);
    expect(launches).toEqual([]);
  });

  test("a group deleted through ARM during its pull never starts a process", async () => {
    h.sim.faults.startDelayMs = 60_000;
    const pulling = phaseSeen("Pulling");
    const b = failure(create("b", pulling.onPhase));
    await Promise.race([pulling.seen, b.then((e) => expect.fail(`create ended before Pulling: ${e.message}`))]);
    const group = h.sim.group("aciimg-b")!;
    await h.provider().delete({ provider: "aci", id: group.id, name: "b" });
    expect(h.sim.groups()).toEqual([]);
    expect((await b).name).toBe("AciimgError");
    expect(launches).toEqual([]);
  });

  test("closing the simulator ends a pull in progress", async () => {
    const own = await startHarness({
      launcher: (request, signal) => (launches.push(keyOf(request)), launchBackend(request, signal)),
    });
    // Once the simulator is gone the provider would keep polling until its timeout: stop it instead.
    const stop = new AbortController();
    try {
      // A pull longer than the test may run: close below returns only if it ends the pull.
      own.sim.faults.startDelayMs = 3_600_000;
      const pulling = phaseSeen("Pulling");
      // Its own token: the managed-identity client caches the one `h` issued for the process.
      const b = failure(
        own
          .provider({}, identityOf(own))
          .create(
            { ...own.spec(), name: "b" },
            { owner: "test-owner", apiKey: "key-b", signal: stop.signal, onPhase: pulling.onPhase },
          ),
      );
      await Promise.race([pulling.seen, b.then((e) => expect.fail(`create ended before Pulling: ${e.message}`))]);
      await own.close();
      stop.abort();
      // Either ends the create, whichever comes first: our abort, or (polling every 20 ms with one
      // retry) ARM found unreachable while the simulator closes. The point is the pull: it ended.
      expect(["E_ABORTED", "E_AZURE"]).toContain((await b).code);
      expect(launches).toEqual([]);
    } finally {
      stop.abort();
      // startHarness pointed this process's managed identity at `own`; give it back to `h`.
      process.env.IDENTITY_ENDPOINT = h.sim.identityEndpoint;
      process.env.IDENTITY_HEADER = h.sim.identityHeader;
    }
  });
});

describe("quota at the k-th group (maxGroups)", () => {
  test("the third member is refused as E_QUOTA, the first two stay, and a deletion frees quota", async () => {
    h.sim.faults.maxGroups = 2;
    await Promise.all([create("a"), create("b")]);
    const error = await failure(create("c"));
    expect(error.code).toBe("E_QUOTA");
    expect(error.message).toContain("Limit: '2', Usage: '2' Requested: '1'");
    expect(h.sim.requests.filter((r) => r.method === "PUT").map((r) => r.status)).toEqual([201, 201, 400]);
    expect(
      h.sim
        .groups()
        .map((g) => g.name)
        .sort(),
    ).toEqual(["aciimg-a", "aciimg-b"]);

    await h.sim.deleteOutOfBand("aciimg-a");
    await create("c");
    expect(
      h.sim
        .groups()
        .map((g) => g.name)
        .sort(),
    ).toEqual(["aciimg-b", "aciimg-c"]);
  });
});

describe("one member fails at provisioning (provisionFailureFor)", () => {
  test("b ends Failed with its events while a and c come up", async () => {
    h.sim.faults.provisionFailureFor = {
      "aciimg-b": {
        code: "ContainerGroupProvisioningFailed",
        message: "The container group failed to start.",
        events: [{ name: "Failed", message: "Failed to pull image: manifest unknown" }],
      },
    };
    const [a, b, c] = await Promise.allSettled([create("a"), create("b"), create("c")]);
    expect(a.status).toBe("fulfilled");
    expect(c.status).toBe("fulfilled");
    expect(b).toMatchObject({ status: "rejected", reason: { code: "E_PROVISION" } });
    expect((b as PromiseRejectedResult).reason.message).toContain("Failed to pull image: manifest unknown");
    // The PUT of b was accepted: it failed later, and the provider deleted it.
    expect(h.sim.requests.filter((r) => r.method === "PUT").map((r) => r.status)).toEqual([201, 201, 201]);
    expect(
      h.sim
        .groups()
        .map((g) => g.name)
        .sort(),
    ).toEqual(["aciimg-a", "aciimg-c"]);
  });
});

describe("what each member served (servedCount)", () => {
  test("counts the image requests a member's backend answered, not its /health probes", async () => {
    const [a, b] = await Promise.all([create("a"), create("b")]);
    const image = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#808080" } })
      .jpeg()
      .toBuffer();
    const resize = async (record: BackendRecord, times: number) => {
      const client = createImaginaryClient({
        endpoint: record.endpoint,
        apiKey: record.apiKey,
        tlsFingerprint: record.tlsFingerprint,
        connections: 1,
      });
      try {
        for (let i = 0; i < times; i++)
          await client.request({
            op: "resize",
            query: new URLSearchParams({ width: "10" }),
            body: image,
            signal: AbortSignal.timeout(10_000),
          });
      } finally {
        await client.close();
      }
    };
    await resize(a, 2);
    await resize(b, 1);
    expect(await h.sim.servedCount("aciimg-a")).toBe(2);
    expect(await h.sim.servedCount("aciimg-b")).toBe(1);
    expect(await h.sim.served("aciimg-a")).toEqual([
      { method: "POST", operation: "resize", status: 200 },
      { method: "POST", operation: "resize", status: 200 },
    ]);
    expect(await h.sim.servedCount("aciimg-nope")).toBe(0);
    // Asking again counts the same: the fences are not image requests.
    expect(await h.sim.servedCount("aciimg-a")).toBe(2);
  });
});

test("reset restores the default faults, the pool's included", async () => {
  Object.assign(h.sim.faults, {
    startDelayMs: 60_000,
    maxGroups: 0,
    provisionFailureFor: { "*": { code: "X", message: "x" } },
  });
  await h.reset();
  expect(h.sim.faults).toEqual(defaultFaults());
  await create("a");
});
