/**
 * Issue 12, points 1 and 3, through the real CLI: the local backend is reachable only by its owner
 * (a Unix socket, 0600, in a 0700 directory; no TCP port), another user cannot take its place after
 * it dies, and it runs with an allowlisted environment (no secret the CLI inherited).
 */
import { spawn } from "node:child_process";
import { chmod, mkdir, readdir, readFile, readlink, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { isProcessAlive } from "../../src/host-process.js";
import { cannotActAsNobody, NOBODY } from "../helpers/users.js";
import { until } from "../helpers/wait.js";
import { jsonLines, workspacesFor, writeJpeg, type Workspace } from "./cli-harness.js";

const workspace = workspacesFor("aciimg-e2e-isolation-");
const nobody = { uid: NOBODY, gid: NOBODY };

interface Backend {
  pid: number;
  endpoint: string;
  apiKey: string;
  id: string;
}

async function backendOf(ws: Workspace): Promise<Backend> {
  const state = (await ws.state()) as unknown as { backends: Record<string, Backend> };
  const record = state.backends.default;
  if (!record) throw new Error("no backend in the state");
  return record;
}

/** Inodes of the sockets `pid` holds open (/proc/<pid>/fd → "socket:[123]"). */
async function socketInodes(pid: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match) inodes.add(match[1] as string);
  }
  return inodes;
}

/** Inodes of every listening TCP socket (IPv4 and IPv6) on the machine, from /proc/net/tcp{,6}. */
async function tcpListenerInodes(): Promise<Set<string>> {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = await readFile(table, "utf8").catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      // st is field 3; 0A is LISTEN; the inode is field 9.
      if (fields[3] === "0A" && fields[9]) inodes.add(fields[9]);
    }
  }
  return inodes;
}

/**
 * A would-be impostor, run as another user: given the backend's endpoint, it tries to take its
 * place (bind its TCP port, or a socket in its directory) and to reach it (connect to its socket).
 * Each attempt reports its outcome; whatever it manages to bind, it keeps open and reports every
 * byte it receives, answering with a 503. It prints `{"ready":…}` once every attempt settled.
 */
const squatter = `
const net = require("node:net");
const path = require("node:path");
const [endpoint] = process.argv.slice(1);
const report = (line) => process.stdout.write(JSON.stringify(line) + "\\n");
const serve = (where) => new Promise((resolve) => {
  const server = net.createServer((socket) => {
    socket.on("data", (data) => {
      report({ received: data.toString("latin1").slice(0, 300), on: where });
      socket.end("HTTP/1.1 503 Service Unavailable\\r\\ncontent-length: 0\\r\\nconnection: close\\r\\n\\r\\n");
    });
  });
  server.once("error", (error) => resolve(error.code));
  server.listen(...(typeof where === "string" ? [where] : [where.port, where.host]), () => resolve("listening"));
});
const reach = (socketPath) => new Promise((resolve) => {
  const socket = net.connect({ path: socketPath });
  socket.once("connect", () => { socket.destroy(); resolve("connected"); });
  socket.once("error", (error) => resolve(error.code));
});
(async () => {
  const outcomes = {};
  if (endpoint.startsWith("unix:")) {
    const socketPath = endpoint.slice(5);
    outcomes.connectSocket = await reach(socketPath);
    outcomes.bindSocket = await serve(socketPath);
    outcomes.bindInDirectory = await serve(path.join(path.dirname(socketPath), "squat.sock"));
  } else {
    const url = new URL(endpoint);
    outcomes.bindPort = await serve({ host: url.hostname, port: Number(url.port) });
  }
  report({ ready: outcomes });
})();
`;

/** Starts the squatter as `nobody`; resolves once its attempts are done, with a way to stop it and read what it got. */
async function startSquatter(
  ws: Workspace,
  endpoint: string,
): Promise<{ outcomes: Record<string, string>; stop(): Promise<Array<Record<string, unknown>>> }> {
  const child = spawn(process.execPath, ["-e", squatter, endpoint], {
    ...nobody,
    cwd: "/",
    env: { PATH: ws.env.PATH ?? "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (data: Buffer) => (stdout += data.toString("utf8")));
  child.stderr.on("data", (data: Buffer) => (stderr += data.toString("utf8")));
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const outcomes = await new Promise<Record<string, string>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the squatter did not report within 10s: ${stderr}`)), 10_000);
    const onData = (): void => {
      const ready = jsonLines(stdout).find((line) => "ready" in line);
      if (!ready) return;
      clearTimeout(timer);
      child.stdout.off("data", onData);
      resolve(ready.ready as Record<string, string>);
    };
    child.stdout.on("data", onData);
    child.once("close", (code) => {
      clearTimeout(timer);
      reject(new Error(`the squatter exited (${code}) before reporting: ${stderr}`));
    });
  });
  return {
    outcomes,
    stop: async () => {
      child.kill("SIGKILL");
      await closed;
      return jsonLines(stdout).filter((line) => "received" in line);
    },
  };
}

describe("the local backend is reachable only by its owner", () => {
  it("listens on a 0600 Unix socket in a 0700 directory, and on no TCP port", async () => {
    const ws = await workspace();
    const up = await ws.run(["up", "--json"]);
    expect(up.code, up.stderr).toBe(0);
    const backend = await backendOf(ws);
    expect(jsonLines(up.stdout)[0]?.endpoint).toBe(backend.endpoint);
    const socketPath = join(dirname(ws.statePath), "local", `backend-${backend.id.split("@")[1]}.sock`);
    expect(backend.endpoint).toBe(`unix:${socketPath}`);
    const socket = await stat(socketPath);
    expect(socket.isSocket()).toBe(true);
    expect(socket.mode & 0o777).toBe(0o600);
    expect((await stat(dirname(socketPath))).mode & 0o777).toBe(0o700);

    const held = await socketInodes(backend.pid);
    const tcp = await tcpListenerInodes();
    expect([...held].filter((inode) => tcp.has(inode))).toEqual([]);
    // …and the socket it does hold is the one at that path.
    const unixTable = await readFile("/proc/net/unix", "utf8");
    const listed = unixTable
      .split("\n")
      .filter((line) => line.endsWith(` ${socketPath}`))
      .map((line) => line.trim().split(/\s+/)[6]);
    expect(listed.some((inode) => inode !== undefined && held.has(inode))).toBe(true);

    const status = await ws.run(["status"]);
    expect(status.stdout).toContain(`endpoint:  unix:${socketPath}\n`);
  });

  // The modes that keep others out are checked as any user by the test above.
  it(
    "after a kill -9, another user can neither reach its socket nor bind in its place; the next `process` " +
      "starts a new backend and nothing else receives a byte (needs root: runs a squatter as nobody)",
    async (ctx) => {
      const cannot = await cannotActAsNobody();
      if (cannot) return ctx.skip(cannot);
      const ws = await workspace();
      // Everything up to the state's own directory is open to other users, as a home directory often
      // is: what keeps them out must be aciimg's own directory and socket.
      await chmod(ws.dir, 0o755);
      await mkdir(dirname(ws.statePath), { mode: 0o755 });
      await chmod(dirname(ws.statePath), 0o755);
      await writeJpeg(join(ws.dir, "in.jpg"), 120, 80);
      expect((await ws.run(["up"])).code).toBe(0);
      const first = await backendOf(ws);
      process.kill(first.pid, "SIGKILL");
      await until(() => !isProcessAlive(first.pid), `backend ${first.pid} to die`);

      const squat = await startSquatter(ws, first.endpoint);
      let received: Array<Record<string, unknown>> = [];
      let run;
      try {
        run = await ws.run(["process", "in.jpg", "--resize", "60x40", "-o", "out/", "--json"]);
      } finally {
        received = await squat.stop();
      }
      // With a TCP port, the squatter got the key and the image here.
      expect(received).toEqual([]);
      expect(squat.outcomes).toEqual({ connectSocket: "EACCES", bindSocket: "EACCES", bindInDirectory: "EACCES" });
      expect(run.code, run.stderr).toBe(0);
      const second = await backendOf(ws);
      expect(second.pid).not.toBe(first.pid);
      expect(second.endpoint).not.toBe(first.endpoint);
      expect(second.endpoint).toMatch(/^unix:\//);
      expect((await stat(join(ws.dir, "out", "in.jpg"))).size).toBeGreaterThan(0);
    },
  );

  it("up --dry-run shows exactly the command the provider then runs (but for the random instance)", async () => {
    const ws = await workspace();
    const dry = await ws.run(["up", "--dry-run", "--cpu", "1"]);
    expect(dry.code, dry.stderr).toBe(0);
    const shown = /^would run: ACIIMG_BACKEND_KEY=\*\*\* aciimg (.*)$/m.exec(dry.stdout)?.[1];
    expect(shown).toBeDefined();
    expect((await ws.run(["up", "--cpu", "1"])).code).toBe(0);
    const backend = await backendOf(ws);
    const argv = (await readFile(`/proc/${backend.pid}/cmdline`, "utf8")).split("\0").filter(Boolean);
    const unquoted = (shown as string)
      .replace(/'([^']*)'/g, "$1")
      .replace("<instance>", backend.id.split("@")[1] as string);
    expect(argv.slice(2).join(" ")).toBe(unquoted);
  });
});

describe("the local backend's environment is an allowlist", () => {
  it("holds the key, and none of the secrets or other variables the CLI was started with", async () => {
    const ws = await workspace();
    const secrets = {
      AZURE_CLIENT_SECRET: "azure-client-secret-canary",
      ACIIMG_SERVE_KEY: "serve-key-canary",
      ACIIMG_REGISTRY_PASSWORD: "registry-password-canary",
      SOME_UNRELATED_SETTING: "unrelated-canary",
    };
    const up = await ws.run(["up"], { env: secrets });
    expect(up.code, up.stderr).toBe(0);
    const backend = await backendOf(ws);
    const environ = (await readFile(`/proc/${backend.pid}/environ`, "utf8")).split("\0").filter(Boolean);
    const names = new Map(
      environ.map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]),
    );
    for (const name of Object.keys(secrets)) expect(names.has(name), name).toBe(false);
    for (const value of Object.values(secrets)) expect(environ.join("\n")).not.toContain(value);
    expect(names.get("ACIIMG_BACKEND_KEY")).toBe(backend.apiKey);
    expect(names.get("PATH")).toBe(ws.env.PATH);
  });
});
