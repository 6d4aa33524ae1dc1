/**
 * `aciimg serve` on the aci provider: the real Azure SDK and DefaultAzureCredential against the
 * ARM simulator (test/arm-sim), whose container groups run real backend processes.
 */
import sharp from "sharp";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openEngine } from "../../src/compose.js";
import type { Engine } from "../../src/engine/types.js";
import { startHttpServer, type HttpServer } from "../../src/http/server.js";
import { armErrors } from "../arm-sim/server.js";
import { startHarness, type SimHarness } from "../arm-sim/harness.js";

const KEY = "serve-aci-key-abcdef";

let h: SimHarness;
let photo: Buffer;
const open: Array<{ engine: Engine; server: HttpServer }> = [];

beforeAll(async () => {
  h = await startHarness();
  photo = await sharp({ create: { width: 1000, height: 750, channels: 3, background: "#e0a010" } })
    .jpeg()
    .toBuffer();
});
afterEach(async () => {
  for (const { engine, server } of open.splice(0)) {
    await server.close();
    await engine.close();
  }
  await h.reset();
});
afterAll(async () => h?.close());

async function serve(timeoutMs?: number): Promise<{ engine: Engine; server: HttpServer; log: string[] }> {
  const config = h.config();
  expect(config.provider).toBe("aci");
  const engine = await openEngine(config);
  const log: string[] = [];
  const server = await startHttpServer({
    engine,
    host: "127.0.0.1",
    port: 0,
    key: KEY,
    maxUploadBytes: 5_000_000,
    log: (line) => log.push(line),
    ...(timeoutMs ? { timeoutMs } : {}),
  });
  open.push({ engine, server });
  return { engine, server, log };
}

const resize = (server: HttpServer) =>
  fetch(`${server.url}/resize?width=300&height=200`, { method: "POST", body: photo, headers: { "api-key": KEY } });

describe("aciimg serve with the aci provider on the ARM simulator", () => {
  it("a bad request sends nothing to ARM; concurrent cold requests share one container-group create", async () => {
    const { server } = await serve();
    const bad = await fetch(`${server.url}/resize?width=abc`, {
      method: "POST",
      body: photo,
      headers: { "api-key": KEY },
    });
    expect(bad.status).toBe(400);
    await bad.arrayBuffer();
    expect(h.sim.requests).toHaveLength(0);

    const responses = await Promise.all(Array.from({ length: 12 }, () => resize(server)));
    for (const response of responses) {
      expect(response.status).toBe(200);
      const meta = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
      expect([meta.width, meta.height]).toEqual([300, 200]);
    }
    expect(h.sim.count("PUT")).toBe(1);
    expect(h.sim.groups()).toHaveLength(1);
  });

  it("a provisioning failure answers 503 with Retry-After, the detail only in the server's log", async () => {
    h.sim.faults.putError = armErrors.capacity;
    const { server, log } = await serve();
    const response = await resize(server);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("30");
    const body = (await response.json()) as { message: string; status: number };
    expect(body).toEqual({ message: expect.stringContaining("E_CAPACITY"), status: 503 });
    expect(body.message).not.toContain("westeurope");
    expect(log.join("\n")).toContain("westeurope");
    expect(h.sim.groups()).toHaveLength(0);
  });

  it(
    "a cold start longer than the wait bound answers 503 + Retry-After, " +
      "and the provisioning carries on for the retry",
    async () => {
      // Each operation poll takes ~20 ms (FAST_ENV); 40 "Creating" polls make a create of about a second.
      h.sim.faults.creatingPolls = 40;
      const { server } = await serve(150);
      const first = await resize(server);
      expect(first.status).toBe(503);
      expect(first.headers.get("retry-after")).toBe("30");
      expect(await first.json()).toEqual({ message: expect.stringMatching(/Timed out/), status: 503 });
      // Retry, as a client honouring Retry-After would (sooner here); bounded.
      let status = 0;
      for (let attempt = 0; attempt < 100 && status !== 200; attempt++) {
        const retry = await resize(server);
        status = retry.status;
        await retry.arrayBuffer();
      }
      expect(status).toBe(200);
      expect(h.sim.count("PUT")).toBe(1);
    },
  );
});
