/**
 * `aciimg process` on the local provider: the backend reads the input files itself (its file
 * source, `GET /<op>?file=`, issue 15) and the outputs come back over HTTP. The backend's access
 * log (`aciimg logs`) shows which way each image went.
 */
import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, symlink, truncate, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliForNobody, isRoot, NOBODY, nobodysEnv } from "../helpers/users.js";
import { cliPath, createWorkspace, jsonLines, until, writeJpeg, type Workspace } from "./cli-harness.js";

let ws: Workspace;
const nobodysCli = cliForNobody();

/** The access-log lines of image requests (`"GET /resize?…" 200`), as the backend logged them. */
async function imageRequests(): Promise<string[]> {
  const logs = await ws.run(["logs", "--tail", "1000"]);
  expect(logs.code, logs.stderr).toBe(0);
  return logs.stdout.split("\n").filter((line) => /"(GET|POST) \/resize/.test(line));
}

/** The CLI's run with its summary, failing the test with its stderr when it did not exit 0. */
async function processOk(args: string[], options: Parameters<Workspace["run"]>[1] = {}): Promise<void> {
  const result = await ws.run(["process", ...args, "--json"], options);
  expect(result.code, result.stderr).toBe(0);
  expect(jsonLines(result.stdout).at(-1)).toMatchObject({ summary: { failed: 0 } });
}

beforeAll(async () => {
  ws = await createWorkspace("aciimg-e2e-file-source-");
  const up = await ws.run(["up"]);
  expect(up.code, up.stderr).toBe(0);
});
afterAll(async () => {
  await ws.cleanup();
});

describe("the local backend reads the inputs of `process` itself", () => {
  it("records that the backend has the file source (mounted on /)", async () => {
    const backends = Object.values((await ws.state()).backends) as Array<{ fileRoot?: string }>;
    expect(backends.map((b) => b.fileRoot)).toEqual(["/"]);
  });

  it("a batch goes as GET ?file= with no upload, and the outputs are the resized images", async () => {
    await mkdir(join(ws.dir, "batch"));
    await Promise.all(["a", "b", "c"].map((name) => writeJpeg(join(ws.dir, "batch", `${name}.jpg`), 600, 400)));
    await processOk(["batch", "--resize", "300x200", "-o", "out-batch/"]);
    for (const name of ["a", "b", "c"]) {
      expect(await sharp(join(ws.dir, "out-batch", `${name}.jpg`)).metadata()).toMatchObject({
        width: 300,
        height: 200,
        format: "jpeg",
      });
    }
    const lines = (await imageRequests()).filter((line) => line.includes("batch"));
    expect(lines).toHaveLength(3);
    for (const line of lines)
      expect(line).toMatch(/"GET \/resize\?[^"]*&file=[^"]*batch%252F[abc]\.jpg HTTP\/1\.1" 200 /);
  });

  it("a file whose name needs escaping (`a b%c+d.jpg`) is read as named", async () => {
    await mkdir(join(ws.dir, "odd"));
    await writeJpeg(join(ws.dir, "odd", "a b%c+d.jpg"), 400, 300);
    await processOk([join("odd", "a b%c+d.jpg"), "--width", "100", "-o", "out-odd/"]);
    expect(await sharp(join(ws.dir, "out-odd", "a b%c+d.jpg")).metadata()).toMatchObject({ width: 100, height: 75 });
    expect((await imageRequests()).filter((line) => line.includes("a%2520b%2525c%252Bd.jpg"))).toHaveLength(1);
  });

  it("a file whose path is too long for a request line once escaped is uploaded instead, and processed", async () => {
    // 8 folders of 120 × "é" (240 bytes each): ~2 KB of path, ~10 KB escaped twice; the
    // backend answers a request line that long 431, so it must not be sent as GET ?file=.
    const deep = join(ws.dir, "deep", ...Array.from({ length: 8 }, () => "é".repeat(120)));
    await mkdir(deep, { recursive: true });
    await writeJpeg(join(deep, "far.jpg"), 400, 300);
    await processOk([join(deep, "far.jpg"), "--width", "100", "-o", "out-deep/"]);
    expect(await sharp(join(ws.dir, "out-deep", "far.jpg")).metadata()).toMatchObject({ width: 100, height: 75 });
    const isUpload = (line: string) =>
      line.includes("far.jpg") ||
      /"POST \/resize\?width=100&type=jpeg&stripmeta=true&background=255%2C255%2C255&failon=warning /.test(line);
    const uploaded = (await imageRequests()).filter(isUpload);
    expect(uploaded).toEqual([
      expect.stringMatching(
        /"POST \/resize\?width=100&type=jpeg&stripmeta=true&background=255%2C255%2C255&failon=warning HTTP\/1\.1" 200 /,
      ),
    ]);
  });

  it(
    "a symbolic link named on the command line is sent as the file it resolves to, " +
      "and the output keeps the link's name",
    async () => {
      await mkdir(join(ws.dir, "targets"));
      await writeJpeg(join(ws.dir, "targets", "wide.jpg"), 800, 200);
      await symlink(join(ws.dir, "targets", "wide.jpg"), join(ws.dir, "link.jpg"));
      await processOk(["link.jpg", "--width", "200", "-o", "out-link/"]);
      expect(await sharp(join(ws.dir, "out-link", "link.jpg")).metadata()).toMatchObject({ width: 200, height: 50 });
      expect((await imageRequests()).filter((line) => line.includes("wide.jpg") || line.includes("link.jpg"))).toEqual([
        expect.stringMatching(/"GET \/resize\?[^"]*targets%252Fwide\.jpg HTTP/),
      ]);
    },
  );

  // The CLI is root in its namespace: in a user namespace of its own, root's folders (/tmp) would be
  // nobody's to it, and it would rightly refuse its state. sharesMountNamespace is tested as any user.
  it(
    "a CLI in another mount namespace (unshare -m, as under systemd's PrivateTmp) uploads its files: " +
      "the backend would read another file at the same path (needs root: unshare -m)",
    async (context) => {
      if (!isRoot) return context.skip("needs root: mounts a tmpfs in a mount namespace of the CLI's own (unshare -m)");
      // The backend (started by beforeAll, outside) sees the 800x200 photo; the CLI, in a namespace
      // with a tmpfs over that folder, sees a 400x400 one at the same path, and must get it resized.
      await mkdir(join(ws.dir, "private"));
      await mkdir(join(ws.dir, "elsewhere"));
      await writeJpeg(join(ws.dir, "private", "same-name.jpg"), 800, 200);
      await writeJpeg(join(ws.dir, "elsewhere", "same-name.jpg"), 400, 400);
      const script = 'mount -t tmpfs none private && cp elsewhere/same-name.jpg private/ && exec "$0" "$@"';
      const result = await ws.runCommand("unshare", [
        "--mount",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        script,
        process.execPath,
        cliPath,
        "process",
        "private/same-name.jpg",
        "--width",
        "120",
        "-o",
        "out-ns/",
        "--json",
      ]);
      expect(result.code, result.stderr).toBe(0);
      expect(await sharp(join(ws.dir, "out-ns", "same-name.jpg")).metadata()).toMatchObject({
        width: 120,
        height: 120,
      });
      const isUpload = (line: string): boolean => line.includes("same-name.jpg") || line.includes("width=120");
      const uploaded = (await imageRequests()).filter(isUpload);
      expect(uploaded).toEqual([
        expect.stringMatching(
          new RegExp(
            /"POST \/resize\?width=120&type=jpeg&stripmeta=true/.source +
              /&background=255%2C255%2C255&failon=warning HTTP\/1\.1" 200 /.source,
          ),
        ),
      ]);
    },
  );

  it("/dev/stdin redirected from a file is that file, not the backend's own stdin", async () => {
    // A name that means another file in each process (/dev/stdin, /proc/self/fd/N): the backend
    // must be sent the file this process reaches through it.
    await writeJpeg(join(ws.dir, "piped.jpg"), 640, 480);
    const result = await ws.runCommand("/bin/sh", [
      "-c",
      'exec "$0" "$@" < piped.jpg',
      process.execPath,
      cliPath,
      "process",
      "/dev/stdin",
      "--width",
      "64",
      "-o",
      "out-stdin/from-stdin.jpg",
      "--json",
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(await sharp(join(ws.dir, "out-stdin", "from-stdin.jpg")).metadata()).toMatchObject({
      width: 64,
      height: 48,
    });
    expect((await imageRequests()).filter((line) => line.includes("piped.jpg"))).toEqual([
      expect.stringMatching(
        new RegExp(
          /"GET \/resize\?width=64&type=jpeg&stripmeta=true/.source +
            /&background=255%2C255%2C255&failon=warning&file=[^"]*piped\.jpg HTTP\/1\.1" 200 /.source,
        ),
      ),
    ]);
  });

  it("a truncated input among good ones is refused by the CLI, and never requested", async () => {
    await mkdir(join(ws.dir, "mixed"));
    await writeJpeg(join(ws.dir, "mixed", "good.jpg"), 600, 400);
    const whole = await readFile(join(ws.dir, "mixed", "good.jpg"));
    await writeFile(join(ws.dir, "mixed", "cut.jpg"), whole.subarray(0, Math.floor(whole.length / 2)));
    const result = await ws.run(["process", "mixed", "--resize", "30x20", "-o", "out-mixed/", "--json"]);
    expect(result.code).toBe(1);
    const byInput = Object.fromEntries(
      jsonLines(result.stdout)
        .filter((line) => "input" in line)
        .map((line) => [line.input, line]),
    );
    expect(byInput["mixed/cut.jpg"]).toMatchObject({ status: "failed", code: "E_BAD_INPUT" });
    expect(byInput["mixed/good.jpg"]).toMatchObject({ status: "ok" });
    expect((await imageRequests()).filter((line) => line.includes("cut.jpg"))).toEqual([]);
  });

  // The local backend mounts /, so no input is outside its file source: a read-only folder elsewhere,
  // and (as root) one that belongs to nobody, as a shared photo folder would.
  async function readOutside(name: string, owner?: number): Promise<void> {
    const shared = await mkdtemp(join(tmpdir(), "aciimg-e2e-shared-"));
    try {
      await writeJpeg(join(shared, name), 600, 400);
      await chmod(join(shared, name), 0o444);
      await chmod(shared, 0o555);
      if (owner !== undefined) await chown(shared, owner, owner);
      const out = `out-shared-${name}/`;
      await processOk([join(shared, name), "--resize", "60x40", "-o", out]);
      expect(await sharp(join(ws.dir, out, name)).metadata()).toMatchObject({ width: 60, height: 40 });
      const requests = (await imageRequests()).filter((line) => line.includes(name));
      expect(requests).toEqual([expect.stringMatching(/"GET \/resize\?/)]);
    } finally {
      await chmod(shared, 0o755).catch(() => undefined);
      await rm(shared, { recursive: true, force: true });
    }
  }

  it("an input outside the working directory, in a read-only folder of ours, is read too", async () => {
    await readOutside("mine.jpg");
  });

  it("an input outside the working directory, in a folder another user owns, is read too (needs root)", async (c) => {
    if (!isRoot) return c.skip(`needs root: hands the folder to the user nobody (uid ${NOBODY})`);
    await readOutside("theirs.jpg", NOBODY);
  });

  it(
    "a file the backend cannot open but the CLI can (a group the CLI joined after the backend started) " +
      "is uploaded after the backend's refusal (needs root: setpriv as nobody)",
    async (context) => {
      // As nobody (root reads everything): the backend runs without group 4343, the CLI with it,
      // and the photo is readable by that group only.
      const cli = await nobodysCli();
      if (typeof cli === "string") return context.skip(cli);
      const home = await mkdtemp(join(tmpdir(), "aciimg-e2e-groups-"));
      const as = (groups: string): string[] => [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, groups, ...cli.argv];
      const options = { cwd: home, env: { ...nobodysEnv, ACIIMG_STATE: join(home, "state", "state.json") } };
      try {
        await chown(home, NOBODY, NOBODY);
        await mkdir(join(home, "grouped"), { mode: 0o750 });
        await writeJpeg(join(home, "grouped", "members.jpg"), 600, 300);
        await chmod(join(home, "grouped", "members.jpg"), 0o640);
        for (const path of [join(home, "grouped"), join(home, "grouped", "members.jpg")]) await chown(path, 0, 4343);
        const up = await ws.runCommand("setpriv", [...as("--clear-groups"), "up"], options);
        expect(up.code, up.stderr).toBe(0);
        const result = await ws.runCommand(
          "setpriv",
          [...as("--groups=4343"), "process", "grouped/members.jpg", "--width", "50", "-o", "out/", "--json"],
          options,
        );
        expect(result.code, result.stdout + result.stderr).toBe(0);
        expect(await sharp(join(home, "out", "members.jpg")).metadata()).toMatchObject({ width: 50, height: 25 });
        const logs = await ws.runCommand("setpriv", [...as("--clear-groups"), "logs"], options);
        expect(logs.stdout.split("\n").filter((line) => line.includes("/resize"))).toEqual([
          expect.stringMatching(
            new RegExp(
              /"GET \/resize\?width=50&type=jpeg&stripmeta=true/.source +
                /&background=255%2C255%2C255&failon=warning&file=[^"]*members\.jpg HTTP\/1\.1" 400 /.source,
            ),
          ),
          expect.stringMatching(
            new RegExp(
              /"POST \/resize\?width=50&type=jpeg&stripmeta=true/.source +
                /&background=255%2C255%2C255&failon=warning HTTP\/1\.1" 200 /.source,
            ),
          ),
        ]);
      } finally {
        await ws.runCommand("setpriv", [...as("--clear-groups"), "down"], options).catch(() => undefined);
        await rm(home, { recursive: true, force: true });
      }
    },
  );

  it.each([
    { ext: "jpg", keep: 0.5, what: "to half (the backend decodes it, half grey)", refusal: "is truncated" },
    { ext: "png", keep: 0, what: "to nothing (the backend refuses it)", refusal: "is empty" },
  ])(
    "a .$ext input cut $what after the CLI checked it, before the backend read it, is refused by the CLI, not written",
    async ({ ext, keep, refusal }) => {
      // The backend reads a file when its request gets an intake slot. Sixteen uploads that never
      // finish hold every slot, so the CLI's request waits (checked, not yet read) while the file is
      // cut short; then the uploads go away and the backend reads what is left.
      const name = `race.${ext}`;
      const target = join(ws.dir, name);
      await sharp({
        create: {
          width: 1600,
          height: 1200,
          channels: 3,
          background: "#808080",
          noise: { type: "gaussian", mean: 128, sigma: 30 },
        },
      })
        .toFormat(ext === "png" ? "png" : "jpeg")
        .toFile(target);
      const [record] = Object.values((await ws.state()).backends);
      if (!record) throw new Error("no backend in the state");
      const socketPath = record.endpoint.replace(/^unix:/, "");
      const load = async (): Promise<number> => {
        const health = await new Promise<string>((resolve, reject) => {
          const req = httpRequest({ socketPath, path: "/health", headers: { "API-Key": record.apiKey } }, (res) => {
            let text = "";
            res.on("data", (chunk: Buffer) => (text += chunk.toString()));
            res.on("end", () => resolve(text));
          });
          req.on("error", reject);
          req.end();
        });
        return (JSON.parse(health) as { goroutines: number }).goroutines;
      };
      // Nothing left in the backend from an earlier test, or the counts below would not be this test's.
      await until(async () => (await load()) === 0, "an idle backend");
      const stalled = Array.from({ length: 16 }, () => {
        const socket = connect(socketPath);
        socket.on("error", () => undefined);
        socket.write(
          `POST /resize?width=10 HTTP/1.1\r\n` +
            `Host: backend\r\nAPI-Key: ${record.apiKey}\r\nContent-Length: 100000\r\n\r\n\xff\xd8`,
        );
        return socket;
      });
      try {
        await until(async () => (await load()) === 16, "16 stalled uploads in the backend");
        const cli = ws.start(["process", name, "--width", "100", "-o", "out-race/", "--json"]);
        let stdout = "";
        cli.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        const exited = new Promise<number | null>((resolve) => cli.on("close", resolve));
        await until(async () => (await load()) === 17, "the CLI's request queued in the backend");
        await truncate(target, Math.floor((await stat(target)).size * keep));
        for (const socket of stalled) socket.destroy();
        expect(await exited).toBe(1);
        expect(jsonLines(stdout).at(-1)).toMatchObject({
          summary: { total: 1, ok: 0, failed: 1, failures: [{ input: name, code: "E_BAD_INPUT" }] },
        });
        expect(JSON.stringify(jsonLines(stdout).at(-1))).toContain(`${name} ${refusal}`);
        await expect(stat(join(ws.dir, "out-race", name))).rejects.toMatchObject({ code: "ENOENT" });
      } finally {
        for (const socket of stalled) socket.destroy();
      }
    },
  );

  it(
    "a backend whose record does not " +
      "say it reads files (started before aciimg had the file source) is sent the bytes",
    async () => {
      const state = JSON.parse(await readFile(ws.statePath, "utf8")) as {
        backends: Record<string, Record<string, unknown>>;
      };
      for (const backend of Object.values(state.backends)) delete backend.fileRoot;
      await writeFile(ws.statePath, JSON.stringify(state));
      await writeJpeg(join(ws.dir, "old.jpg"), 600, 400);
      await processOk(["old.jpg", "--resize", "60x40", "-o", "out-old/"]);
      expect(await sharp(join(ws.dir, "out-old", "old.jpg")).metadata()).toMatchObject({ width: 60, height: 40 });
      const lines = (await imageRequests()).filter((line) => line.includes("POST") && line.includes("width=60&"));
      expect(lines).toHaveLength(1);
      expect(lines[0]).not.toContain("file=");
    },
  );
});
