/**
 * Every ARM failure the issue lists, injected into the simulator, surfaces from the real SDK as
 * its documented AciimgError — and no container group is left behind.
 */
import type { TokenCredential } from "@azure/core-auth";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { errorCodes, type AciimgError } from "../../src/errors.js";
import { startHarness, type SimHarness } from "../arm-sim/harness.js";
import { armErrors } from "../arm-sim/server.js";

let h: SimHarness;
beforeAll(async () => {
  h = await startHarness();
});
afterEach(async () => h.reset());
afterAll(async () => h?.close());

async function createFails(extraEnv: Record<string, string> = {}, credential?: TokenCredential): Promise<AciimgError> {
  const provider = h.provider(extraEnv, credential);
  const error = await provider.create(h.spec(), { owner: "test-owner", apiKey: "fault-key" }).then(
    () => undefined,
    (e: unknown) => e as AciimgError,
  );
  expect(error, "create should have failed").toBeDefined();
  expect(error!.name).toBe("AciimgError");
  // After any failed create no container group is left behind.
  expect(h.sim.groups()).toEqual([]);
  return error!;
}

describe("create failures on the ARM simulator", () => {
  test.each([
    ["quota", armErrors.quota, "E_QUOTA", /quota.*aciimg reap/s],
    ["capacity", armErrors.capacity, "E_CAPACITY", /no capacity.*another --location/s],
    ["registry pull limit", armErrors.registry, "E_IMAGE_PULL", /Docker Hub.*ghcr\.io.*az acr import/s],
    ["inaccessible image", armErrors.inaccessibleImage, "E_IMAGE_PULL", /not accessible.*--image/s],
    ["missing role", armErrors.forbidden, "E_FORBIDDEN", /"aciimg operator" role.*few minutes to apply/s],
    [
      "subscription never used ACI",
      armErrors.notRegistered,
      "E_CONFIG",
      /not registered to use Azure Container Instances.*az provider register --namespace Microsoft\.ContainerInstance/s,
    ],
  ] as const)("%s: the PUT is refused and the error says what to do", async (_, putError, code, advice) => {
    h.sim.faults.putError = { ...putError };
    const error = await createFails();
    expect(error.code).toBe(code);
    expect(error.exitCode).toBe(errorCodes[code]);
    expect(error.message).toMatch(advice);
    // Nothing was created, so nothing is deleted and the message does not pretend otherwise.
    expect(h.sim.count("DELETE")).toBe(0);
    expect(error.message).not.toMatch(/was deleted/);
  });

  test("provisioning Failed: the message shows the container's last events and the group is deleted", async () => {
    h.sim.faults.provisionFailure = {
      code: "ContainerGroupProvisioningFailed",
      message: "The container group failed to start.",
      events: [
        { name: "Pulling", message: 'pulling image "x"', type: "Normal" },
        { name: "Failed", message: "Failed to pull image: manifest unknown" },
        { name: "BackOff", message: "Back-off pulling image" },
      ],
    };
    const error = await createFails();
    expect(error.code).toBe("E_PROVISION");
    expect(error.message).toContain("Failed to pull image: manifest unknown");
    expect(error.message).toContain("was deleted");
    expect(h.sim.count("DELETE")).toBe(1);
  });

  test("stuck in Pending past --timeout: the half-made group is deleted and the message says so", async () => {
    h.sim.faults.stuckPending = true;
    // Bounded by the test's own timeout; the message shows the 600 ms bound is what ended it.
    const error = await createFails({ ACIIMG_CREATE_TIMEOUT: "600ms" });
    expect(error.code).toBe("E_TIMEOUT");
    expect(error.message).toMatch(/still Pending after 600ms/);
    expect(error.message).toMatch(/half-made container group aciimg-default was deleted/);
  });

  test("a backend that never becomes healthy times out, names the endpoint, and is deleted", async () => {
    h.sim.faults.unhealthyBackend = true;
    const error = await createFails({ ACIIMG_CREATE_TIMEOUT: "1500ms" });
    expect(error.code).toBe("E_TIMEOUT");
    expect(error.message).toMatch(
      /imaginary at https:\/\/127\.\d+\.\d+\.\d+:9000 did not answer GET \/health within 2s/,
    );
    expect(error.message).toMatch(/was deleted/);
    expect(h.sim.count("DELETE")).toBe(1);
  });

  test("429 without Retry-After is not retried by the SDK and becomes E_THROTTLED", async () => {
    h.sim.faults.throttle = { count: 1, methods: ["PUT"] };
    const error = await createFails();
    expect(error.code).toBe("E_THROTTLED");
    expect(h.sim.count("PUT")).toBe(1);
  });

  test("429 with Retry-After is retried after that delay and the create succeeds", async () => {
    h.sim.faults.throttle = { count: 1, retryAfterSeconds: 1, methods: ["PUT"] };
    const record = await h.provider().create(h.spec(), { owner: "test-owner", apiKey: "retry-key" });
    expect(record.endpoint).toMatch(/:9000$/);
    expect(h.sim.requests.filter((r) => r.method === "PUT").map((r) => r.status)).toEqual([429, 201]);
  });

  test("429 that outlasts the retries reports the Retry-After ARM asked for", async () => {
    h.sim.faults.throttle = { count: 5, retryAfterSeconds: 1, methods: ["PUT"] };
    const error = await createFails({ ACIIMG_ARM_MAX_RETRIES: "0" });
    expect(error.code).toBe("E_THROTTLED");
    expect(error.message).toMatch(/retry after 1 s/);
  });

  test("5xx after the SDK's retries becomes E_AZURE (retries tuned through config, not sleeps)", async () => {
    h.sim.faults.serverError = { count: 10, status: 500, methods: ["PUT"] };
    const error = await createFails({ ACIIMG_ARM_MAX_RETRIES: "2" });
    expect(error.code).toBe("E_AZURE");
    expect(error.message).toMatch(/500/);
    expect(h.sim.count("PUT")).toBe(3);
  });

  test("Retry-After on an operation poll replaces the poll interval as core-lro does", async () => {
    // core-lro's rule: docs/reference/arm-notes.md §2.4. An hour: a client
    // that honours it polls the operation once, however long the test looks.
    h.sim.faults.pollRetryAfter = 3600;
    h.sim.faults.pendingPolls = 2;
    const operationPolls = () => h.sim.count("GET", /\/operations\//);
    const groupReads = () => h.sim.count("GET", /\/containerGroups\/[^/]+$/);
    const stop = new AbortController();
    const create = h
      .provider()
      .create(h.spec(), { owner: "test-owner", apiKey: "poll-key", signal: stop.signal })
      .then(
        () => expect.fail("create should wait out the Retry-After"),
        (e: unknown) => e,
      );
    await vi.waitFor(() => expect(operationPolls()).toBeGreaterThan(0));
    // Meanwhile the provider reads the group every 50 ms for its events: ten of those would be
    // twenty-odd operation polls at the 20 ms interval alone. core-lro polls twice at once (as the
    // operation starts, then as pollUntilDone begins); the Retry-After rules from then on.
    const reads = groupReads();
    await vi.waitFor(() => expect(groupReads()).toBeGreaterThanOrEqual(reads + 10), { timeout: 30_000 });
    expect(operationPolls()).toBeLessThanOrEqual(2);
    stop.abort();
    expect(await create).toMatchObject({ name: "AciimgError" });
  });

  test("a transient 503 is retried and the create succeeds", async () => {
    h.sim.faults.serverError = { count: 1, status: 503, methods: ["PUT"] };
    await h.provider().create(h.spec(), { owner: "test-owner", apiKey: "k503" });
    expect(h.sim.requests.filter((r) => r.method === "PUT").map((r) => r.status)).toEqual([503, 201]);
  });

  test(
    "a resource group that does not exist is " + "E_RESOURCE_GROUP_NOT_FOUND with the az command to create it",
    async () => {
      const error = await createFails({ AZURE_RESOURCE_GROUP: "no-such-rg" });
      expect(error.code).toBe("E_RESOURCE_GROUP_NOT_FOUND");
      expect(error.message).toMatch(/az group create -n no-such-rg/);
    },
  );

  test("no subscription or resource group configured is E_CONFIG naming the settings", async () => {
    const error = await createFails({ AZURE_SUBSCRIPTION_ID: "", AZURE_RESOURCE_GROUP: "" });
    expect(error.code).toBe("E_CONFIG");
    expect(error.message).toMatch(/AZURE_SUBSCRIPTION_ID.*AZURE_RESOURCE_GROUP/s);
    expect(h.sim.requests).toEqual([]);
  });

  test("a token ARM did not issue is rejected (401) and reported as a credentials problem", async () => {
    const forged: TokenCredential = {
      getToken: async () => ({ token: "forged", expiresOnTimestamp: Date.now() + 3600_000 }),
    };
    const error = await createFails({}, forged);
    expect(error.code).toBe("E_NO_CREDENTIALS");
    expect(error.message).toMatch(/rejected the token/);
    expect(h.sim.requests.every((r) => r.status === 401)).toBe(true);
  });

  test("cancelling create deletes the half-made group", async () => {
    h.sim.faults.stuckPending = true;
    const controller = new AbortController();
    const provider = h.provider();
    const pending = provider.create(h.spec(), {
      owner: "test-owner",
      apiKey: "cancel-key",
      signal: controller.signal,
      onPhase: (p) => p === "Pending" && setTimeout(() => controller.abort(), 100),
    });
    const error = (await pending.catch((e: unknown) => e)) as AciimgError;
    expect(error.code).toBe("E_ABORTED");
    expect(h.sim.groups()).toEqual([]);
  });
});
