/**
 * The StateStore contract suite (STYLE.md "Contract suites", as unstorage's testDriver): every
 * store — the JSON file, Azure Blob on Azurite — passes the same tests before it ships.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ownerOf } from "../../src/engine/owner.js";
import { STATE_VERSION, type BackendRecord, type StateStore } from "../../src/engine/types.js";

export interface StateStoreFixture {
  store: StateStore;
  cleanup(): Promise<void>;
}

/** A well-formed running record for `name`. */
export function sampleRecord(name: string, overrides: Partial<BackendRecord> = {}): BackendRecord {
  const now = new Date("2026-01-01T00:00:00.000Z").toISOString();
  return {
    provider: "local",
    id: `local:1234@${5000 + name.length}`,
    name,
    endpoint: "http://127.0.0.1:5000",
    apiKey: `key-of-${name}`,
    createdAt: now,
    lastUsed: now,
    status: "running",
    spec: { name, image: "img", cpu: 1, memoryInGB: 1.5, maxUploadBytes: 1000, maxResolutionMP: 18 },
    pid: 1234,
    ...overrides,
  };
}

/** Registers the contract tests for a store made by `make` (a fresh, empty store per test). */
export function describeStateStore(name: string, make: () => Promise<StateStoreFixture>): void {
  describe(`StateStore contract: ${name}`, () => {
    let fixture: StateStoreFixture;
    beforeEach(async () => {
      fixture = await make();
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it("reads an empty state when nothing was written", async () => {
      expect(await fixture.store.read()).toEqual({ version: STATE_VERSION, backends: {} });
      expect(typeof fixture.store.location).toBe("string");
      expect(fixture.store.location.length).toBeGreaterThan(0);
    });

    it("round-trips a record through update and read", async () => {
      const record = sampleRecord("default");
      await fixture.store.update((state) => {
        state.backends.default = record;
      });
      expect(await fixture.store.read()).toEqual({ version: STATE_VERSION, backends: { default: record } });
    });

    it("round-trips a record's optional fields (tlsFingerprint, pid, provisioner) and the owner id", async () => {
      const record = sampleRecord("aci", {
        provider: "aci",
        status: "provisioning",
        tlsFingerprint: "AB:CD:EF",
        provisioner: { pid: 4321, host: "host-1", heartbeat: "2026-01-01T00:00:05.000Z" },
      });
      await fixture.store.update((state) => {
        state.owner = "owner_1";
        state.backends.aci = record;
      });
      expect(await fixture.store.read()).toEqual({
        version: STATE_VERSION,
        owner: "owner_1",
        backends: { aci: record },
      });
    });

    it("returns the value update's function returns", async () => {
      const result = await fixture.store.update((state) => Object.keys(state.backends).length + 41);
      expect(result).toBe(41);
    });

    it("accepts an async update function", async () => {
      await fixture.store.update(async (state) => {
        await new Promise((resolve) => setImmediate(resolve));
        state.backends.a = sampleRecord("a");
      });
      expect(Object.keys((await fixture.store.read()).backends)).toEqual(["a"]);
    });

    it("loses no write when many updaters run in parallel", async () => {
      const updaters = 16;
      await Promise.all(
        Array.from({ length: updaters }, (_, index) =>
          fixture.store.update((state) => {
            state.backends[`b${index}`] = sampleRecord(`b${index}`);
          }),
        ),
      );
      const names = Object.keys((await fixture.store.read()).backends).sort();
      expect(names).toEqual(Array.from({ length: updaters }, (_, index) => `b${index}`).sort());
    });

    it("serializes read-modify-write: parallel increments all count", async () => {
      await fixture.store.update((state) => {
        state.backends.counter = sampleRecord("counter", { lastUsed: new Date(0).toISOString() });
      });
      const increments = 12;
      await Promise.all(
        Array.from({ length: increments }, () =>
          fixture.store.update((state) => {
            const record = state.backends.counter;
            if (!record) throw new Error("counter record missing");
            record.lastUsed = new Date(Date.parse(record.lastUsed) + 1).toISOString();
          }),
        ),
      );
      const record = (await fixture.store.read()).backends.counter;
      expect(record && Date.parse(record.lastUsed)).toBe(increments);
    });

    it("leaves the state unchanged when the update function throws", async () => {
      const record = sampleRecord("keep");
      await fixture.store.update((state) => {
        state.backends.keep = record;
      });
      await expect(
        fixture.store.update((state) => {
          delete state.backends.keep;
          state.backends.other = sampleRecord("other");
          throw new Error("boom in update");
        }),
      ).rejects.toThrow("boom in update");
      expect(await fixture.store.read()).toEqual({ version: STATE_VERSION, backends: { keep: record } });
      // And the store is still usable (no lock left behind).
      await fixture.store.update((state) => {
        delete state.backends.keep;
      });
      expect((await fixture.store.read()).backends).toEqual({});
    });

    it("keeps the state's owner id through updates that do not touch it", async () => {
      await fixture.store.update((state) => {
        state.owner = "0123456789abcdef0123456789abcdef";
        state.backends.a = sampleRecord("a");
      });
      await fixture.store.update((state) => {
        delete state.backends.a;
        state.backends.b = sampleRecord("b");
      });
      expect(await fixture.store.read()).toEqual({
        version: STATE_VERSION,
        owner: "0123456789abcdef0123456789abcdef",
        backends: { b: sampleRecord("b") },
      });
    });

    it("makes the owner id once: parallel first updates all get the same one, and it is never made again", async () => {
      const owners = await Promise.all(
        Array.from({ length: 8 }, () => fixture.store.update((state) => ownerOf(state))),
      );
      const [first] = owners;
      expect(first).toMatch(/^[0-9a-f]{32}$/);
      expect(new Set(owners)).toEqual(new Set([first]));
      expect(await fixture.store.update((state) => ownerOf(state))).toBe(first);
      expect((await fixture.store.read()).owner).toBe(first);
    });

    it("deletes a record", async () => {
      await fixture.store.update((state) => {
        state.backends.x = sampleRecord("x");
        state.backends.y = sampleRecord("y");
      });
      await fixture.store.update((state) => {
        delete state.backends.x;
      });
      expect(Object.keys((await fixture.store.read()).backends)).toEqual(["y"]);
    });
  });
}
