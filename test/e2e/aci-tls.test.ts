/**
 * ACI backends are reached only over HTTPS pinned to the certificate made for their group (issue
 * 11): the spawned CLI, the real SDK and DefaultAzureCredential against the ARM simulator, whose
 * groups run their real command (the TLS start step) and serve TLS with exactly the certificate
 * and key found in the PUT body.
 */
import { ContainerInstanceManagementClient } from "@azure/arm-containerinstance";
import { DefaultAzureCredential } from "@azure/identity";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, unlinkSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { fingerprintOf } from "../../src/providers/aci/tls.js";
import { lastJson, simCli, type CliRun, type SimCli } from "../arm-sim/cli.js";
import { startArmSim, type ArmSim } from "../arm-sim/server.js";

let sim: ArmSim;
let dir: string;
let input: string;
let cli: SimCli;

beforeAll(async () => {
  sim = await startArmSim();
  dir = mkdtempSync(join(tmpdir(), "aciimg-e2e-tls-"));
  cli = simCli(sim, dir);
  input = join(dir, "in.jpg");
  writeFileSync(
    input,
    await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 200, g: 80, b: 40 } } })
      .jpeg()
      .toBuffer(),
  );
  // The test process reads ARM too, as any reader with access would (managed identity of the simulator).
  process.env.IDENTITY_ENDPOINT = sim.identityEndpoint;
  process.env.IDENTITY_HEADER = sim.identityHeader;
});
afterEach(async () => {
  for (const g of sim.groups()) await sim.deleteOutOfBand(g.name);
  if (existsSync(join(dir, "state.json"))) unlinkSync(join(dir, "state.json"));
  sim.requests.length = 0;
});
afterAll(async () => {
  await sim?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The secrets of the one PUT so far, as the simulator received them. */
function putSecrets(): { apiKey: string; tlsKey: string; certPem: string } {
  const put = sim.requests.find((r) => r.method === "PUT");
  const env =
    (
      put!.body as {
        properties: {
          containers: Array<{
            properties: { environmentVariables: Array<{ name: string; value?: string; secureValue?: string }> };
          }>;
        };
      }
    ).properties.containers[0]?.properties.environmentVariables ?? [];
  const of = (name: string) => env.find((e) => e.name === name);
  // The TLS pair travels as one-line base64 (src/providers/aci/spec.ts `commandFor`).
  const pem = (text = "") => Buffer.from(text, "base64").toString("utf8");
  return {
    apiKey: of("IMAGINARY_SECRET")?.secureValue ?? "",
    tlsKey: pem(of("ACIIMG_TLS_KEY")?.secureValue),
    certPem: pem(of("ACIIMG_TLS_CERT")?.value),
  };
}

const state = (): { backends: Record<string, { endpoint: string; tlsFingerprint?: string }> } =>
  JSON.parse(readFileSync(join(dir, "state.json"), "utf8"));

describe("HTTPS only, pinned", () => {
  test("up → process → status → reap over HTTPS; " +
    "the private key is nowhere ARM readers, the state or any output can see", async () => {
    const earlier = sim.handshakeErrors().length;
    const outputs: CliRun[] = [];
    const run = async (args: string[]): Promise<CliRun> => {
      const result = await cli(args);
      outputs.push(result);
      expect(result.code, result.stderr).toBe(0);
      return result;
    };
    const up = await run(["up", "--json"]);
    expect(String(lastJson(up).endpoint)).toMatch(/^https:\/\/127\.\d+\.\d+\.\d+:9000$/);
    const { apiKey, tlsKey, certPem } = putSecrets();
    expect(tlsKey).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(state().backends.default?.tlsFingerprint).toBe(fingerprintOf(certPem));

    await run(["process", input, "--resize", "200x150", "-o", join(dir, "out.jpg")]);
    expect((await sharp(join(dir, "out.jpg")).metadata()).width).toBe(200);
    const status = await run(["status", "--json"]);
    expect(lastJson(status)).toMatchObject({ state: "running", endpoint: lastJson(up).endpoint });
    await run(["status", "--show-key"]);
    await run(["logs"]);
    await run(["up", "--dry-run"]);

    const reader = new ContainerInstanceManagementClient(new DefaultAzureCredential(), sim.subscriptionId, {
      endpoint: sim.endpoint,
    });
    const got = await reader.containerGroups.get(sim.resourceGroup, "aciimg-default");
    const listed = [];
    for await (const g of reader.containerGroups.listByResourceGroup(sim.resourceGroup)) listed.push(g);
    const readable = [
      JSON.stringify(got),
      JSON.stringify(listed),
      JSON.stringify(got.containers[0]?.command),
      readFileSync(join(dir, "state.json"), "utf8"),
    ];
    for (const text of [...readable, ...outputs.map((o) => o.stdout + o.stderr)]) {
      expect(text).not.toContain(tlsKey.split("\n")[1]);
      expect(text).not.toContain(Buffer.from(tlsKey).toString("base64").slice(0, 64));
      expect(text).not.toContain("PRIVATE KEY");
    }
    for (const text of readable.slice(0, 3)) expect(text).not.toContain(apiKey);

    const reap = await run(["reap", "--idle", "0s", "--json"]);
    expect(lastJson(reap).removed).toEqual([
      expect.objectContaining({ provider: "aci", name: "default", reason: "idle" }),
    ]);
    expect(sim.groups()).toEqual([]);
    // Every connection to the group was TLS: the backend logged no failed handshake.
    expect(sim.handshakeErrors()).toHaveLength(earlier);
  }, 90_000);

  test("a man in the middle with a CA-trusted certificate " +
    "for the group's address is refused and gets no request", async () => {
    const up = await cli(["up", "--json"]);
    expect(up.code, up.stderr).toBe(0);
    const group = sim.group("aciimg-default");
    const ip = group?.ip ?? "";
    await group?.container?.stop();
    // The machine trusts this certificate (NODE_EXTRA_CA_CERTS has the simulator's CA); only the pin tells it apart.
    const seen: Array<{ url?: string; key?: string | string[] }> = [];
    let connections = 0;
    const { certPem, keyPem } = sim.issueTrustedCert(ip);
    const impostor: Server = createServer({ cert: certPem, key: keyPem }, (req, res) => {
      seen.push({ url: req.url, key: req.headers["api-key"] });
      res.writeHead(200, { "content-type": "application/json" }).end('{"uptime":1,"cpus":2}');
    });
    // TCP level: proves the CLI did reach the impostor (the refusal is not a closed port).
    impostor.on("connection", () => connections++);
    await new Promise<void>((resolve, reject) => impostor.once("error", reject).listen(9000, ip, () => resolve()));
    try {
      const out = join(dir, "mitm.jpg");
      const run = await cli(["process", input, "--resize", "200x150", "-o", out, "--json"]);
      expect(run.code, run.stderr).toBe(4);
      expect(lastJson(run)).toMatchObject({ error: { code: "E_BACKEND_UNTRUSTED" } });
      expect(run.stderr).toMatch(/certificate/);
      expect(connections).toBeGreaterThan(0);
      expect(seen).toEqual([]);
      expect(existsSync(out)).toBe(false);
    } finally {
      impostor.closeAllConnections();
      await new Promise<void>((resolve) => impostor.close(() => resolve()));
    }
  }, 60_000);

  test("a group restarted on a new IP is re-read from ARM and used there, still pinned", async () => {
    const up = await cli(["up", "--json"]);
    expect(up.code, up.stderr).toBe(0);
    const before = state().backends.default;
    const ip = await sim.restartOutOfBand("aciimg-default");
    expect(before?.endpoint).not.toBe(`https://${ip}:9000`);
    const run = await cli(["process", input, "--resize", "100x75", "-o", join(dir, "moved.jpg")]);
    expect(run.code, run.stderr).toBe(0);
    expect(state().backends.default).toMatchObject({
      endpoint: `https://${ip}:9000`,
      tlsFingerprint: before?.tlsFingerprint,
    });
    expect(sim.count("PUT")).toBe(1);
    // The detector the other tests rely on: a plain-http client does leave a handshake error.
    const earlier = sim.handshakeErrors().length;
    await fetch(`http://${ip}:9000/health`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
    await vi.waitFor(() => expect(sim.handshakeErrors()).toHaveLength(earlier + 1), { timeout: 5000 });
  }, 60_000);

  test("a state recorded before TLS (plain http, " +
    "no pin) is never spoken to in clear: its group is replaced", async () => {
    const earlier = sim.handshakeErrors().length;
    const up = await cli(["up", "--json"]);
    expect(up.code, up.stderr).toBe(0);
    const old = JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as {
      backends: Record<string, Record<string, unknown>>;
    };
    const record = old.backends.default ?? {};
    record.endpoint = String(record.endpoint).replace("https:", "http:");
    delete record.tlsFingerprint;
    writeFileSync(join(dir, "state.json"), JSON.stringify(old));
    const run = await cli(["process", input, "--resize", "100x75", "-o", join(dir, "upgraded.jpg")]);
    expect(run.code, run.stderr).toBe(0);
    expect(sim.count("DELETE")).toBe(1);
    expect(sim.count("PUT")).toBe(2);
    expect(state().backends.default?.tlsFingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(sim.handshakeErrors()).toHaveLength(earlier);
  }, 60_000);

  test("an image that serves plain HTTP is refused at create, saying why, and nothing is left", async () => {
    const up = await cli(["up", "--image", "example/plain-http-imaginary:1"]);
    expect(up.code, up.stderr).toBe(4);
    expect(up.stderr).toMatch(
      /example\/plain-http-imaginary:1 answers in plain HTTP on port 9000, not HTTPS.*was deleted/s,
    );
    expect(sim.groups()).toEqual([]);
  }, 60_000);
});
