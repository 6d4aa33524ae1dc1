/**
 * The backend on a Unix domain socket (issue 12): created 0600, reached by our client through a
 * `unix:` endpoint, a dead socket left by kill -9 replaced, anything else at the path refused.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startBackend, type RunningBackend } from "../../src/backend/server.js";
import { createImaginaryClient } from "../../src/client/client.js";

const key = "socket-test-key";
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "aciimg-sock-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function start(socketPath: string): Promise<RunningBackend> {
  const backend = await startBackend({ apiKey: key, socketPath, cpus: 1 });
  cleanups.push(() => backend.close());
  return backend;
}

/** A socket file whose listener died without closing it, as kill -9 leaves it. */
async function deadSocket(path: string): Promise<void> {
  const child = spawn(
    process.execPath,
    [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`,
    ],
    { stdio: "ignore" },
  );
  await new Promise((resolve) => child.once("close", resolve));
  expect((await stat(path)).isSocket()).toBe(true);
}

describe("backend on a Unix socket", () => {
  it(
    "serves on a 0600 socket that our client reaches " + "through its unix: endpoint, and removes it on close",
    async () => {
      const dir = await tempDir();
      const path = join(dir, "b.sock");
      const backend = await start(path);
      expect(backend.url).toBe(`unix:${path}`);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      const client = createImaginaryClient({ endpoint: backend.url, apiKey: key, connections: 1 });
      cleanups.push(() => client.close());
      expect(await client.probe()).toMatchObject({ state: "healthy" });
      const wrong = createImaginaryClient({ endpoint: backend.url, apiKey: "not-the-key", connections: 1 });
      cleanups.push(() => wrong.close());
      expect(await wrong.probe()).toMatchObject({ state: "unauthorized", status: 401 });
      await backend.close();
      await expect(stat(path)).rejects.toMatchObject({ code: "ENOENT" });
      // Gone: the client says unreachable (no socket file), as it does for a refused port.
      expect(await client.probe()).toMatchObject({ state: "unreachable", error: { code: "E_BACKEND_UNREACHABLE" } });
    },
  );

  it("replaces the dead socket a killed backend left", async () => {
    const dir = await tempDir();
    const path = join(dir, "b.sock");
    await deadSocket(path);
    const backend = await start(path);
    const client = createImaginaryClient({ endpoint: backend.url, apiKey: key, connections: 1 });
    cleanups.push(() => client.close());
    expect(await client.probe()).toMatchObject({ state: "healthy" });
  });

  it("refuses a path that holds a file, and leaves the file as it was", async () => {
    const dir = await tempDir();
    const path = join(dir, "b.sock");
    await writeFile(path, "precious");
    await expect(startBackend({ apiKey: key, socketPath: path })).rejects.toMatchObject({
      code: "E_USAGE",
      message: expect.stringContaining("is not a socket; refusing to replace it"),
    });
    expect(await readFile(path, "utf8")).toBe("precious");
  });

  it("refuses a socket another process listens on, and leaves it to that process", async () => {
    const dir = await tempDir();
    const path = join(dir, "b.sock");
    const other = createServer((socket) => socket.on("error", () => undefined).end());
    await new Promise<void>((resolve) => other.listen(path, resolve));
    cleanups.push(() => new Promise((resolve) => other.close(resolve)));
    await expect(startBackend({ apiKey: key, socketPath: path })).rejects.toMatchObject({
      code: "E_USAGE",
      message: expect.stringContaining("another process is listening on it"),
    });
    expect((await stat(path)).isSocket()).toBe(true);
  });

  it("refuses a socket path longer than Linux can bind", async () => {
    const dir = await tempDir();
    const path = join(dir, `${"x".repeat(120)}.sock`);
    await expect(startBackend({ apiKey: key, socketPath: path })).rejects.toMatchObject({
      code: "E_USAGE",
      message: expect.stringContaining("longer than the 107"),
    });
  });
});
