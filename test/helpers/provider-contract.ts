/**
 * The Provider contract suite (STYLE.md "Contract suites"): `local` runs it on real processes,
 * `aci` on the ARM simulator. One backend is created and walked through its whole life.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BackendRecord, BackendSpec, Provider } from "../../src/engine/types.js";
import { healthOf } from "./backend-health.js";

export interface ProviderFixture {
  provider: Provider;
  spec: BackendSpec;
  cleanup(): Promise<void>;
}

/** Registers the contract tests for the provider made by `make`. */
export function describeProvider(name: string, make: () => Promise<ProviderFixture>): void {
  describe(`Provider contract: ${name}`, () => {
    let fixture: ProviderFixture;
    let record: BackendRecord | undefined;
    const apiKey = randomBytes(18).toString("base64url");
    const phases: string[] = [];

    beforeAll(async () => {
      fixture = await make();
    });
    afterAll(async () => {
      if (record) await fixture.provider.delete(record).catch(() => undefined);
      await fixture.cleanup();
    });

    it("create returns a running record that already answers /health with the key", async () => {
      record = await fixture.provider.create(fixture.spec, {
        owner: "test-owner",
        apiKey,
        onPhase: (phase) => phases.push(phase),
      });
      expect(record.provider).toBe(fixture.provider.kind);
      expect(record.name).toBe(fixture.spec.name);
      expect(record.apiKey).toBe(apiKey);
      expect(record.status).toBe("running");
      // A base URL, or a local backend's Unix socket.
      expect(record.endpoint).toMatch(/^(https?:\/\/[^/]+|unix:\/.+\.sock)$/);
      // An https backend is reached only pinned to its certificate.
      if (record.endpoint.startsWith("https:"))
        expect(record.tlsFingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      expect(Number.isFinite(Date.parse(record.createdAt))).toBe(true);
      expect(phases.length).toBeGreaterThan(0);
      const health = await healthOf(record, apiKey);
      expect(health.status).toBe(200);
      expect(health.info).toHaveProperty("uptime");
    });

    it("the backend refuses /health without the key (401)", async () => {
      if (!record) throw new Error("create failed");
      expect((await healthOf(record, undefined)).status).toBe(401);
      expect((await healthOf(record, `${apiKey}x`)).status).toBe(401);
    });

    it("inspect says running at the recorded endpoint", async () => {
      if (!record) throw new Error("create failed");
      expect(await fixture.provider.inspect(record)).toEqual({ state: "running", endpoint: record.endpoint });
    });

    it("list contains it, without its key", async () => {
      if (!record) throw new Error("create failed");
      const refs = await fixture.provider.list();
      const mine = refs.find((ref) => ref.id === record?.id);
      expect(mine).toMatchObject({ provider: fixture.provider.kind, id: record.id, name: fixture.spec.name });
      expect(JSON.stringify(refs)).not.toContain(apiKey);
    });

    it("delete removes it: inspect says gone, list no longer has it", async () => {
      if (!record) throw new Error("create failed");
      await fixture.provider.delete(record);
      expect(await fixture.provider.inspect(record)).toEqual({ state: "gone" });
      expect((await fixture.provider.list()).some((ref) => ref.id === record?.id)).toBe(false);
    });

    it("delete of an already deleted backend succeeds", async () => {
      if (!record) throw new Error("create failed");
      await expect(fixture.provider.delete(record)).resolves.toBeUndefined();
      record = undefined;
    });
  });
}
