/**
 * An image that ignores IMAGINARY_SECRET (e.g. h2non/imaginary started without -key) would serve
 * anyone on its public IP. The "container" here is a real HTTPS server on loopback that serves TLS
 * with the group's certificate, as the command asks, but answers /health without checking any key.
 */
import { createServer } from "node:https";
import { randomInt } from "node:crypto";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { AciimgError } from "../../src/errors.js";
import type { ContainerLauncher } from "../arm-sim/containers.js";
import { startHarness, type SimHarness } from "../arm-sim/harness.js";

const keylessImage: ContainerLauncher = async (request) => {
  const ip = `127.${randomInt(1, 255)}.${randomInt(1, 255)}.${randomInt(1, 255)}`;
  const env = (name: string) => request.env.find((e) => e.name === name);
  // The pair as the container's command decodes it (one-line base64: src/providers/aci/spec.ts `commandFor`).
  const pem = (text = "") => Buffer.from(text, "base64").toString("utf8");
  const tls = { cert: pem(env("ACIIMG_TLS_CERT")?.value), key: pem(env("ACIIMG_TLS_KEY")?.secureValue) };
  const server = createServer(tls, (_, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"uptime":1}');
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(request.port, ip, () => resolve()));
  return {
    ip,
    port: request.port,
    pid: undefined,
    logs: () => "imaginary server listening on :9000 (no key)\n",
    stop: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
};

let h: SimHarness;
beforeAll(async () => {
  h = await startHarness({ launcher: keylessImage });
});
afterAll(async () => h?.close());

test("an image that serves without the API key is refused and deleted, never recorded as a backend", async () => {
  const spec = { ...h.spec(), image: "h2non/imaginary:1.2.4" };
  const error = (await h
    .provider()
    .create(spec, { owner: "test-owner", apiKey: "unused-key" })
    .catch((e: unknown) => e)) as AciimgError;
  expect(error.code).toBe("E_PROVISION");
  expect(error.message).toMatch(/answers without the API key.*IMAGINARY_SECRET/s);
  expect(error.message).toMatch(/was deleted/);
  expect(h.sim.groups()).toEqual([]);
});
