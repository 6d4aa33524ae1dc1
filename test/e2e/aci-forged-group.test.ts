/**
 * A forged container group (issue 22 point 1), end to end through the spawned CLI: someone with
 * write access to the resource group puts `aciimg-default` with the victim's owner id (read from
 * the victim's other group's tags), a certificate of their own in the readable ACIIMG_TLS_CERT and
 * a server of their own. Only our state's pin may make a group trusted: the victim's `process`
 * must send that server no key and no byte, and replace the group (our owner id) or refuse it
 * (E_CONFLICT, any other owner) — never adopt it.
 */
import { ContainerInstanceManagementClient, type ContainerGroup } from "@azure/arm-containerinstance";
import { DefaultAzureCredential } from "@azure/identity";
import { X509Certificate, randomInt } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createBackendCertificate } from "../../src/providers/aci/tls.js";
import { lastJson, simCli, type SimCli } from "../arm-sim/cli.js";
import { launchBackend, type ContainerLauncher, type RunningContainer } from "../arm-sim/containers.js";
import { startArmSim, type ArmSim } from "../arm-sim/server.js";

const ATTACKER_IMAGE = "attacker.example/imaginary:latest";

interface SeenRequest {
  method?: string;
  url?: string;
  key?: string | string[];
  bodyBytes: number;
}
/** What reached the attacker's server: every TCP connection, and every request with its key and body size. */
const attacker = { connections: 0, requests: [] as SeenRequest[] };
let attackerBytes: Buffer;

/**
 * The attacker's "container": an HTTPS server on its own loopback address, with the certificate
 * and key the attacker put in the group. It answers /health to any key and every image request
 * with its own JPEG.
 */
const attackerServer = async (env: Record<string, string>): Promise<RunningContainer> => {
  const ip = `127.${randomInt(1, 255)}.${randomInt(1, 255)}.${randomInt(1, 254)}`;
  const cert = Buffer.from(env.ACIIMG_TLS_CERT ?? "", "base64").toString("utf8");
  const key = Buffer.from(env.ATTACKER_KEY ?? "", "base64").toString("utf8");
  const server: Server = createServer({ cert, key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const bodyBytes = Buffer.concat(chunks).length;
      attacker.requests.push({ method: req.method, url: req.url, key: req.headers["api-key"], bodyBytes });
      if (req.url?.startsWith("/health")) {
        res.writeHead(200, { "content-type": "application/json" }).end('{"uptime":1,"cpus":2}');
      } else {
        res.writeHead(200, { "content-type": "image/jpeg" }).end(attackerBytes);
      }
    });
  });
  server.on("connection", () => attacker.connections++);
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(9000, ip, () => resolve()));
  return {
    ip,
    port: 9000,
    pid: undefined,
    logs: () => "",
    stop: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

const launcher: ContainerLauncher = (request, signal) =>
  request.image === ATTACKER_IMAGE
    ? attackerServer(Object.fromEntries(request.env.map((e) => [e.name, e.secureValue ?? e.value ?? ""])))
    : launchBackend(request, signal);

let sim: ArmSim;
let dir: string;
let cli: SimCli;
let input: string;

beforeAll(async () => {
  sim = await startArmSim({ launcher });
  dir = mkdtempSync(join(tmpdir(), "aciimg-e2e-forged-"));
  cli = simCli(sim, dir);
  input = join(dir, "in.jpg");
  const plain = (width: number, height: number, background: { r: number; g: number; b: number }) =>
    sharp({ create: { width, height, channels: 3, background } })
      .jpeg()
      .toBuffer();
  writeFileSync(input, await plain(640, 480, { r: 200, g: 80, b: 40 }));
  attackerBytes = await plain(200, 150, { r: 0, g: 255, b: 0 });
  // The attacker reads and writes ARM as anyone with the shipped role can (the simulator's managed identity).
  process.env.IDENTITY_ENDPOINT = sim.identityEndpoint;
  process.env.IDENTITY_HEADER = sim.identityHeader;
});
afterAll(async () => {
  await sim?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * The attacker's group `aciimg-default`: tags naming `owner`, their own certificate (base64 PEM,
 * as aciimg writes it) and server.
 */
async function forgeGroup(arm: ContainerInstanceManagementClient, owner: string): Promise<void> {
  const tls = createBackendCertificate(new Date());
  const group: ContainerGroup = {
    location: "westeurope",
    osType: "Linux",
    ipAddress: { type: "Public", ports: [{ port: 9000, protocol: "TCP" }] },
    tags: {
      "managed-by": "aciimg",
      "aciimg-name": "default",
      "aciimg-created": new Date().toISOString(),
      "aciimg-owner": owner,
    },
    containers: [
      {
        name: "imaginary",
        image: ATTACKER_IMAGE,
        ports: [{ port: 9000 }],
        resources: { requests: { cpu: 1, memoryInGB: 1.5 } },
        environmentVariables: [
          { name: "ACIIMG_TLS_CERT", value: Buffer.from(tls.certPem).toString("base64") },
          { name: "ATTACKER_KEY", secureValue: Buffer.from(tls.keyPem).toString("base64") },
        ],
      },
    ],
  };
  const options = { updateIntervalInMs: 20 };
  await arm.containerGroups.beginCreateOrUpdateAndWait(sim.resourceGroup, "aciimg-default", group, options);
  expect(sim.group("aciimg-default")?.container, "the attacker's server runs at the group's address").toBeDefined();
}

describe("a forged group named like ours (spawned CLI, ARM simulator)", () => {
  test("is refused (another owner id) or replaced (ours); its server gets no key, no byte", async () => {
    const state = join(dir, "victim.json");
    // The victim has a backend of another name: its tags show the victim's owner id to any reader.
    const up = await cli(["up", "--name", "ci", "--json"], { ACIIMG_STATE: state });
    expect(up.code, up.stderr).toBe(0);
    const credential = new DefaultAzureCredential();
    const arm = new ContainerInstanceManagementClient(credential, sim.subscriptionId, { endpoint: sim.endpoint });
    const victimOwner = (await arm.containerGroups.get(sim.resourceGroup, "aciimg-ci")).tags?.["aciimg-owner"] ?? "";
    expect(victimOwner).toMatch(/^[0-9a-f]{32}$/);

    // Another owner id: refused as before, nothing sent.
    await forgeGroup(arm, "0123456789abcdef0123456789abcdef");
    const refusedOut = join(dir, "refused.jpg");
    const refusedArgs = ["process", input, "--resize", "200x150", "-o", refusedOut, "--json"];
    const refused = await cli(refusedArgs, { ACIIMG_STATE: state });
    expect(refused.code, refused.stderr).toBe(5);
    expect(lastJson(refused)).toMatchObject({ error: { code: "E_CONFLICT" } });
    expect(existsSync(refusedOut)).toBe(false);

    // The victim's owner id: the group is deleted unspoken-to and a group of our own made in its place.
    await sim.deleteOutOfBand("aciimg-default");
    await forgeGroup(arm, victimOwner);
    const out = join(dir, "out.jpg");
    const run = await cli(["process", input, "--resize", "200x150", "-o", out], { ACIIMG_STATE: state });
    expect(run.code, run.stderr).toBe(0);

    expect(attacker.requests).toEqual([]);
    expect(attacker.connections).toBe(0);
    const written = readFileSync(out);
    expect(written.equals(attackerBytes)).toBe(false);
    const [red, green] = (await sharp(written).stats()).channels;
    expect(red?.mean).toBeGreaterThan(green?.mean ?? 255); // the input's orange, not the attacker's green
    type Recorded = { backends: Record<string, { tlsFingerprint?: string }> };
    const recorded = (JSON.parse(readFileSync(state, "utf8")) as Recorded).backends.default;
    const group = sim.group("aciimg-default");
    expect(group?.image).not.toBe(ATTACKER_IMAGE);
    expect(group?.tags["aciimg-owner"]).toBe(victimOwner);
    const certEnv = group?.env.find((e) => e.name === "ACIIMG_TLS_CERT")?.value ?? "";
    expect(recorded?.tlsFingerprint).toBeDefined();
    expect(new X509Certificate(Buffer.from(certEnv, "base64")).fingerprint256).toBe(recorded?.tlsFingerprint);
  }, 120_000);
});
