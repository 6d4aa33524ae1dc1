/**
 * A config file is trusted as git trusts a repository (issue 22, point 2): an `aciimg.config.json`
 * in a folder another user owns (a shared drop folder) must not send the user's ARM bearer token to
 * the endpoint it names. The "attacker's endpoint" is the ARM simulator, which issues the managed
 * identity's tokens and records every request: a request there carrying a bearer token is the leak.
 * The tests that hand files to another user run as root, with `nobody` as that user, and skip with
 * the reason otherwise; the rest run as any user.
 */
import { chmod, chown, lchown, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it, type TestContext } from "vitest";
import { simCli, type CliRun, type SimCli } from "../arm-sim/cli.js";
import { startArmSim, type ArmSim } from "../arm-sim/server.js";

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

let sim: ArmSim;
let home: string;
let cli: SimCli;

beforeAll(async () => {
  sim = await startArmSim();
  home = await mkdtemp(join(tmpdir(), "aciimg-e2e-config-"));
  cli = simCli(sim, home);
});
afterAll(async () => {
  await sim?.close();
  if (home) await rm(home, { recursive: true, force: true });
});
beforeEach(() => {
  sim.requests.length = 0;
});

function needsRoot(context: TestContext): void {
  if (!isRoot) context.skip("needs root: chowns files and folders to nobody (uid 65534)");
}

/** ARM requests that carried a bearer token: each one handed the token to the endpoint the config named. */
const tokenRequests = () => sim.requests.filter((r) => String(r.headers.authorization ?? "").startsWith("Bearer "));

/** A folder the test owns (mode 0755) or one owned by `nobody` (a shared drop folder, a checkout of theirs). */
async function folder(owner: "me" | "nobody"): Promise<string> {
  const dir = await mkdtemp(join(home, "cwd-"));
  if (owner === "nobody") await chown(dir, NOBODY, NOBODY);
  return dir;
}

/** What an attacker plants: the ARM endpoint and the Azure settings that make `status` call it. */
function planted(withEndpoint = true): string {
  const settings = { provider: "aci", subscription: sim.subscriptionId, resourceGroup: sim.resourceGroup };
  return JSON.stringify(withEndpoint ? { ...settings, armEndpoint: sim.endpoint } : settings);
}

/** `aciimg status` in `cwd` with the simulator's identity but no Azure settings: only a config file can pick aci. */
function status(cwd: string, args: string[] = [], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  return cli(
    ["status", ...args],
    { AZURE_ARM_ENDPOINT: undefined, AZURE_SUBSCRIPTION_ID: undefined, AZURE_RESOURCE_GROUP: undefined, ...env },
    60_000,
    undefined,
    cwd,
  );
}

describe("a config file another user can write", () => {
  it(
    "in a folder another user owns, " +
      "their aciimg.config.json is ignored with a warning, and no token goes to its armEndpoint",
    async (context) => {
      needsRoot(context);
      const drop = await folder("nobody");
      const file = join(drop, "aciimg.config.json");
      await writeFile(file, planted(), { mode: 0o644 });
      await chown(file, NOBODY, NOBODY);

      const run = await status(drop);
      expect(run.code, run.stderr).toBe(0);
      expect(tokenRequests()).toEqual([]);
      expect(run.stderr).toContain(
        `aciimg: warning: ignored ${file}: it belongs to uid ${NOBODY}, not you (uid 0) or root`,
      );
      // --json: the warning stays on stderr; stdout is still one JSON object per line.
      const json = await status(drop, ["--json"]);
      expect(json.code, json.stderr).toBe(0);
      for (const line of json.stdout.trim().split("\n")) expect(() => JSON.parse(line)).not.toThrow();
      expect(JSON.parse(json.stdout.trim())).toMatchObject({ provider: "local" });
      expect(json.stderr).toContain(`ignored ${file}`);
      expect(tokenRequests()).toEqual([]);
    },
  );

  it("named by --config (or ACIIMG_CONFIG), their file fails with E_USAGE and nothing is sent", async (context) => {
    needsRoot(context);
    const drop = await folder("nobody");
    const file = join(drop, "shared.json");
    await writeFile(file, planted(), { mode: 0o644 });
    await chown(file, NOBODY, NOBODY);

    const named = await status(home, ["--config", file, "--json"]);
    expect(named.code, named.stderr).toBe(2);
    const error = JSON.parse(named.stdout.trim()) as { error: { code: string; message: string } };
    expect(error.error.code).toBe("E_USAGE");
    expect(error.error.message).toContain(
      `config file ${file} (named by --config) is not trusted: it belongs to uid ${NOBODY}`,
    );
    const fromEnv = await status(home, [], { ACIIMG_CONFIG: file });
    expect(fromEnv.code, fromEnv.stderr).toBe(2);
    expect(fromEnv.stderr).toContain("(named by ACIIMG_CONFIG) is not trusted");
    expect(tokenRequests()).toEqual([]);
  });

  it("a file of ours writable by its group (0664) is ignored with a warning", async () => {
    const dir = await folder("me");
    const file = join(dir, "aciimg.config.json");
    await writeFile(file, planted(false));
    await chmod(file, 0o664);
    const run = await status(dir, [], { AZURE_ARM_ENDPOINT: sim.endpoint });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`ignored ${file}: it is writable by its group (mode 0664)`);
    expect(tokenRequests()).toEqual([]);
  });

  it("a link another user owns is not followed, even to a file of ours; a link of ours is", async (context) => {
    needsRoot(context);
    const ours = join(await folder("me"), "real.json");
    await writeFile(ours, planted(false), { mode: 0o644 });
    const drop = await folder("nobody");
    const theirLink = join(drop, "aciimg.config.json");
    await symlink(ours, theirLink);
    await lchown(theirLink, NOBODY, NOBODY);
    const env = { AZURE_ARM_ENDPOINT: sim.endpoint };

    const theirs = await status(drop, [], env);
    expect(theirs.code, theirs.stderr).toBe(0);
    expect(theirs.stderr).toContain(`ignored ${theirLink}: it is a symbolic link owned by uid ${NOBODY}`);
    expect(tokenRequests()).toEqual([]);

    const mine = await folder("me");
    await symlink(ours, join(mine, "aciimg.config.json"));
    const followed = await status(mine, ["--json"], env);
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stderr).not.toContain("warning");
    expect(JSON.parse(followed.stdout.trim().split("\n").at(-1) as string)).toMatchObject({ provider: "aci" });
    expect(tokenRequests().length).toBeGreaterThan(0);
  });

  it("a FIFO planted as aciimg.config.json is ignored at once rather than read forever", async () => {
    const drop = await folder("me");
    execFileSync("mkfifo", ["-m", "644", join(drop, "aciimg.config.json")]);
    const run = await status(drop);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain("it is not a regular file");
  });
});

describe("a config file of ours that we did not write (a checked-out repository)", () => {
  it(
    "may not set armEndpoint, registryServer, " +
      "image or state: E_USAGE naming the variable to use, and nothing is sent",
    async () => {
      const checkout = await folder("me");
      const file = join(checkout, "aciimg.config.json");
      await writeFile(file, planted(), { mode: 0o644 });
      const run = await status(checkout, ["--json"]);
      expect(run.code, run.stderr).toBe(2);
      expect(JSON.parse(run.stdout.trim())).toMatchObject({
        error: { code: "E_USAGE", message: expect.stringContaining(`"armEndpoint" cannot be set in a config file`) },
      });
      expect(run.stdout).toContain("AZURE_ARM_ENDPOINT");
      expect(tokenRequests()).toEqual([]);
      for (const [key, value, instead] of [
        ["registryServer", "registry.example", "ACIIMG_REGISTRY_SERVER"],
        ["image", "evil.example/imaginary:1", "ACIIMG_IMAGE"],
        ["state", "./s.json", "ACIIMG_STATE"],
      ]) {
        await writeFile(file, JSON.stringify({ [key as string]: value }), { mode: 0o644 });
        const refused = await status(checkout);
        expect(refused.code, refused.stderr).toBe(2);
        expect(refused.stderr).toContain(`"${key}" cannot be set in a config file`);
        expect(refused.stderr).toContain(instead);
      }
    },
  );

  it("an http:// ARM endpoint from the environment is refused before any request", async () => {
    const dir = await folder("me");
    const plain = sim.endpoint.replace("https://", "http://");
    const run = await status(dir, [], {
      AZURE_ARM_ENDPOINT: plain,
      AZURE_SUBSCRIPTION_ID: sim.subscriptionId,
      AZURE_RESOURCE_GROUP: sim.resourceGroup,
    });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain(`AZURE_ARM_ENDPOINT: expected an https:// URL`);
    expect(sim.requests).toEqual([]);
  });
});
