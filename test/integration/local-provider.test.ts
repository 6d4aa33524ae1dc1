import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { isProcessAlive } from "../../src/host-process.js";
import type { BackendSpec } from "../../src/engine/types.js";
import { createLocalProvider } from "../../src/providers/local/local.js";
import { readListening } from "../../src/providers/local/process.js";
import { manualClock } from "../helpers/manual-clock.js";
import { describeProvider } from "../helpers/provider-contract.js";
import { until } from "../helpers/wait.js";

const spec: BackendSpec = {
  name: "default",
  image: "unused",
  cpu: 1,
  memoryInGB: 1,
  maxUploadBytes: 20_000_000,
  maxResolutionMP: 18,
};

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "aciimg-local-"));
}

describeProvider("local", async () => {
  const dir = await tempDir();
  return {
    provider: createLocalProvider({ env: {}, logDir: join(dir, "local") }),
    spec,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe("local provider", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  async function workspace(): Promise<string> {
    const dir = await tempDir();
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  it(
    "passes the key only through the environment, " +
      "never in argv, and runs `aciimg backend` detached on a socket in its 0700 directory",
    async () => {
      const dir = await workspace();
      const provider = createLocalProvider({ env: {}, logDir: join(dir, "local") });
      const apiKey = randomBytes(18).toString("hex");
      const record = await provider.create(spec, { apiKey, owner: "test-owner" });
      cleanups.push(() => provider.delete(record));
      const instance = /^local:\d+@([0-9a-f]{16})$/.exec(record.id)?.[1];
      expect(record.id).toBe(`local:${record.pid}@${instance}`);
      expect(record.endpoint).toBe(`unix:${join(dir, "local", `backend-${instance}.sock`)}`);
      const argv = (await readFile(`/proc/${record.pid}/cmdline`, "utf8")).split("\0");
      expect(argv).toContain("backend");
      expect(argv.some((arg) => arg.endsWith("bin/aciimg.js"))).toBe(true);
      expect(argv.join(" ")).not.toContain(apiKey);
      // The registry beside the log never holds the key either (the socket beside them has no content).
      for (const file of (await readdir(join(dir, "local"))).filter((name) => !name.endsWith(".sock"))) {
        expect(await readFile(join(dir, "local", file), "utf8")).not.toContain(apiKey);
      }
    },
  );

  it("inspect notices a killed backend (dead pid) and delete then succeeds", async () => {
    const dir = await workspace();
    const provider = createLocalProvider({ env: {}, logDir: join(dir, "local") });
    const record = await provider.create(spec, { owner: "test-owner", apiKey: "k1" });
    cleanups.push(() => provider.delete(record));
    process.kill(record.pid as number, "SIGKILL");
    await until(() => !isProcessAlive(record.pid as number), `backend ${record.pid} to die`);
    expect(await provider.inspect(record)).toEqual({ state: "gone" });
    await expect(provider.delete(record)).resolves.toBeUndefined();
    expect(await provider.list()).toEqual([]);
  });

  it("inspect says gone when the record's key is not the backend's (another backend on that port)", async () => {
    const dir = await workspace();
    const provider = createLocalProvider({ env: {}, logDir: join(dir, "local") });
    const record = await provider.create(spec, { owner: "test-owner", apiKey: "right" });
    cleanups.push(() => provider.delete(record));
    expect(await provider.inspect({ ...record, apiKey: "wrong" })).toEqual({ state: "gone" });
  });

  it("never signals a process that is not its backend, even when a record names its pid", async () => {
    const dir = await workspace();
    const provider = createLocalProvider({ env: {}, logDir: join(dir, "local") });
    const bystander = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    cleanups.push(async () => {
      bystander.kill("SIGKILL");
    });
    const pid = bystander.pid as number;
    const fake = {
      provider: "local" as const,
      id: `local:${pid}@1`,
      name: "default",
      endpoint: "http://127.0.0.1:1",
      apiKey: "k",
      createdAt: new Date().toISOString(),
      lastUsed: new Date().toISOString(),
      status: "running" as const,
      spec,
      pid,
    };
    expect(await provider.inspect(fake)).toEqual({ state: "gone" });
    await provider.delete(fake);
    expect(isProcessAlive(pid)).toBe(true);
  });

  it(
    "finds its backends through the registry after the " + "state is lost, and logs() returns the backend's log",
    async () => {
      const dir = await workspace();
      const logDir = join(dir, "local");
      const first = createLocalProvider({ env: {}, logDir });
      const record = await first.create(spec, { owner: "test-owner", apiKey: "k2" });
      cleanups.push(() => first.delete(record));
      // A second provider instance (a later CLI run) with no record in hand still lists it.
      const later = createLocalProvider({ env: {}, logDir });
      expect(await later.list()).toEqual([
        { provider: "local", id: record.id, name: "default", createdAt: record.createdAt, owner: "test-owner" },
      ]);
      expect(typeof (await later.logs?.(record, 50))).toBe("string");
      await later.delete({ provider: "local", id: record.id, name: "default" });
      expect(isProcessAlive(record.pid as number)).toBe(false);
    },
  );

  it("list() leaves alone an entry that does not check out, and says so: nothing it names is removed", async () => {
    const dir = await workspace();
    const logDir = join(dir, "local");
    await mkdir(logDir, { mode: 0o700 });
    const canary = join(dir, "canary.txt");
    await writeFile(canary, "keep me\n");
    const exited = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    await new Promise((resolve) => exited.once("exit", resolve));
    const pid = exited.pid as number;
    const entry = join(logDir, `backend-${pid}.json`);
    await writeFile(
      entry,
      JSON.stringify({
        id: `local:${pid}@1`,
        name: "default",
        pid,
        endpoint: "",
        createdAt: new Date().toISOString(),
        logFile: canary,
      }),
    );
    const warnings: string[] = [];
    const provider = createLocalProvider({ env: {}, logDir, onWarning: (message) => warnings.push(message) });
    expect(await provider.list()).toEqual([]);
    expect(await readFile(canary, "utf8")).toBe("keep me\n");
    expect(await readdir(logDir)).toEqual([`backend-${pid}.json`]);
    expect(warnings).toEqual([
      expect.stringContaining(
        `ignored ${entry}: not a registry entry aciimg wrote ("logFile" is not a log in ${logDir})`,
      ),
    ]);
  });

  it(
    "list() forgets a stale entry of an older aciimg with its log, " + "when the log is one it made in the registry",
    async () => {
      const dir = await workspace();
      const logDir = join(dir, "local");
      await mkdir(logDir, { mode: 0o700 });
      const exited = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
      await new Promise((resolve) => exited.once("exit", resolve));
      const pid = exited.pid as number;
      const logFile = join(logDir, "backend-1767225600000-0a1b2c3d.log");
      await writeFile(logFile, "old log\n");
      await writeFile(
        join(logDir, `backend-${pid}.json`),
        JSON.stringify({
          id: `local:${pid}@40123`,
          name: "default",
          pid,
          port: 40123,
          endpoint: "http://127.0.0.1:40123",
          createdAt: new Date().toISOString(),
          logFile,
        }),
      );
      const warnings: string[] = [];
      expect(
        await createLocalProvider({ env: {}, logDir, onWarning: (message) => warnings.push(message) }).list(),
      ).toEqual([]);
      expect(await readdir(logDir)).toEqual([]);
      expect(warnings).toEqual([]);
    },
  );

  it("refuses a registry directory others can write, before starting anything", async () => {
    const dir = await workspace();
    const logDir = join(dir, "local");
    await mkdir(logDir);
    await chmod(logDir, 0o777);
    const provider = createLocalProvider({ env: {}, logDir });
    const refused = { code: "E_STATE", message: expect.stringContaining(`chmod 700 ${logDir}`) };
    await expect(provider.list()).rejects.toMatchObject(refused);
    await expect(provider.create(spec, { owner: "test-owner", apiKey: "k5" })).rejects.toMatchObject(refused);
    expect(await readdir(logDir)).toEqual([]);
  });

  it("delete escalates to SIGKILL when the backend ignores SIGTERM past the bound", async () => {
    const dir = await workspace();
    // A backend that speaks the start-up contract but ignores SIGTERM (a wedged server).
    const script = join(dir, "stubborn-aciimg.js");
    await writeFile(
      script,
      `const http = require("node:http");
       process.on("SIGTERM", () => {});
       const key = process.env.ACIIMG_BACKEND_KEY;
       const server = http.createServer((req, res) => {
         res.writeHead(req.headers["api-key"] === key ? 200 : 401, { "content-type": "application/json" });
         res.end(JSON.stringify({ uptime: 1 }));
       });
       const socket = process.argv[process.argv.indexOf("--socket") + 1];
       server.listen(socket, () => process.stdout.write(JSON.stringify({ listening: { socket } }) + "\\n"));`,
    );
    const options = { env: {}, logDir: join(dir, "local"), cliPath: script, stopTimeoutMs: 300 };
    const record = await createLocalProvider(options).create(spec, { owner: "test-owner", apiKey: "k4" });
    const pid = record.pid as number;
    cleanups.push(async () => void (isProcessAlive(pid) && process.kill(pid, "SIGKILL")));
    // The stop waits on the provider's clock, which moves only when the test says.
    const clock = manualClock(Date.now());
    const provider = createLocalProvider({ ...options, clock });
    const deleted = provider.delete(record);
    await vi.waitFor(() => expect(clock.sleeping()).toBe(1));
    await clock.advance(275);
    await vi.waitFor(() => expect(clock.sleeping()).toBe(1));
    expect(isProcessAlive(pid), "SIGTERM alone, before the bound").toBe(true);
    await clock.advance(25);
    await until(() => !isProcessAlive(pid), "the SIGKILL at the bound");
    await clock.advance(25);
    await deleted;
    expect(await provider.inspect(record)).toEqual({ state: "gone" });
  });

  it(
    "a backend that exits before listening fails create " + "with E_PROVISION and its log, leaving nothing behind",
    async () => {
      const dir = await workspace();
      const script = join(dir, "broken-aciimg.js");
      await writeFile(script, "process.stderr.write('cannot bind: address in use\\n'); process.exit(3);\n");
      await chmod(script, 0o755);
      const logDir = join(dir, "local");
      const provider = createLocalProvider({ env: {}, logDir, cliPath: script });
      const error = await provider.create(spec, { owner: "test-owner", apiKey: "k3" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: "E_PROVISION" });
      expect((error as Error).message).toContain("exited before listening");
      expect((error as Error).message).toContain("cannot bind: address in use");
      expect(await readdir(logDir)).toEqual([]);
      expect(await provider.list()).toEqual([]);
    },
  );

  it("notices a backend that exited before the wait for its port even began", async () => {
    const child = spawn(process.execPath, ["-e", "process.exit(3)"], { stdio: ["ignore", "pipe", "ignore"] });
    await new Promise((resolve) => child.once("exit", resolve));
    // Bound far above the answer we expect: waiting it out would mean the exit was missed, and the
    // rejection would then name the bound, not the exit.
    await expect(readListening(child.stdout!, child, 20_000)).rejects.toThrow("exited before listening (exit code 3)");
  });
});
