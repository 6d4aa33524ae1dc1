/**
 * Failures under `--json` through the spawned CLI: every failed command ends stdout with one
 * `{"error":{"code","message"}}` line and exits with the code's documented status, while stderr
 * keeps the line for people. Also: `aciimg` with no command, `status` of a killed backend, and
 * `serve --help`'s example.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliPath, createWorkspace, jsonLines, workspacesFor, writeJpeg, until, type Workspace } from "./cli-harness.js";
import { isProcessAlive } from "../../src/host-process.js";

const workspace = workspacesFor("aciimg-e2e-json-errors-");

interface ErrorLine {
  code: string;
  message: string;
  detail?: Record<string, unknown>;
}

/** The error line, which must be the last line of stdout and the only one of its kind. */
function errorOf(stdout: string, stderr = ""): ErrorLine {
  const lines = jsonLines(stdout);
  expect(
    lines.filter((line) => "error" in line),
    `stdout: ${stdout}\nstderr: ${stderr}`,
  ).toHaveLength(1);
  const last = lines.at(-1) as { error?: ErrorLine } | undefined;
  expect(last?.error, `stdout: ${stdout}\nstderr: ${stderr}`).toMatchObject({
    code: expect.any(String),
    message: expect.any(String),
  });
  return last?.error as ErrorLine;
}

describe("usage errors under --json end with one E_USAGE line on stdout and exit 2", () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await createWorkspace("aciimg-e2e-json-usage-");
  });
  afterAll(async () => {
    await ws.cleanup();
  });

  const says = /^aciimg: /;
  const helps = /^Usage: aciimg \[options\] \[command\]/;
  const cases: Array<[string, string[], RegExp, RegExp]> = [
    [
      "an unknown flag (commander)",
      ["process", "a.jpg", "--sharpen", "-o", "out/", "--json"],
      /^unknown option '--sharpen'$/,
      says,
    ],
    ["a missing argument (commander)", ["--json", "process"], /^missing required argument 'inputs'$/, says],
    [
      "an unknown command (commander)",
      ["--json", "statuz"],
      /^unknown command 'statuz' \(Did you mean status\?\)$/,
      says,
    ],
    [
      "a bad value from a flag parser",
      ["process", "a.jpg", "--resize", "300by200", "-o", "out/", "--json"],
      /^--resize: expected WxH such as 300x200, got "300by200"$/,
      says,
    ],
    [
      "a bad global flag value",
      ["status", "--provider", "gcp", "--json"],
      /^--provider: expected local or aci, got "gcp"$/,
      says,
    ],
    [
      "a usage error a command throws",
      ["serve", "--json"],
      /^serve: no API key for its clients: set ACIIMG_SERVE_KEY/,
      says,
    ],
    ["no command at all", ["--json"], /^no command given: run aciimg --help/, helps],
  ];
  for (const [what, args, message, stderr] of cases) {
    it(`for ${what}`, async () => {
      const result = await ws.run(args);
      expect(result.code).toBe(2);
      expect(result.stdout.trim().split("\n")).toHaveLength(1);
      const error = errorOf(result.stdout, result.stderr);
      expect(error.code).toBe("E_USAGE");
      expect(error.message).toMatch(message);
      // Talk stays on stderr for the person: the same line, or the help when there was no command.
      expect(result.stderr).toMatch(stderr);
      expect(existsSync(ws.statePath)).toBe(false);
    });
  }
});

describe("state and other errors under --json", () => {
  const corrupt = async (ws: Workspace): Promise<void> => {
    await mkdir(dirname(ws.statePath), { recursive: true });
    await writeFile(ws.statePath, "{ this is not json", { mode: 0o600 });
  };

  for (const args of [
    ["status"],
    ["up"],
    ["reap"],
    ["down"],
    ["logs"],
    ["process", "photo.jpg", "--resize", "40x30", "-o", "out/"],
  ]) {
    it(`a corrupt state file makes ${args[0]} --json end with E_STATE naming the file, exit 3`, async () => {
      const ws = await workspace();
      await writeJpeg(join(ws.dir, "photo.jpg"), 80, 60);
      await corrupt(ws);
      const result = await ws.run([...args, "--json"]);
      expect(result.code).toBe(3);
      const error = errorOf(result.stdout, result.stderr);
      expect(error).toMatchObject({ code: "E_STATE", detail: { stateFile: ws.statePath } });
      expect(error.message).toContain(ws.statePath);
      expect(result.stderr).toMatch(/^aciimg: the state file /);
      expect(await readFile(ws.statePath, "utf8")).toBe("{ this is not json");
    });
  }

  it("logs --json with no backend ends with E_BAD_INPUT, exit 1", async () => {
    const ws = await workspace();
    const result = await ws.run(["logs", "--json"]);
    expect(result.code).toBe(1);
    expect(errorOf(result.stdout, result.stderr)).toMatchObject({
      code: "E_BAD_INPUT",
      message: expect.stringContaining("aciimg up"),
    });
  });

  it(
    "a failure nobody mapped (the working directory was " + "deleted) ends with E_INTERNAL, exit 70, stack on stderr",
    async () => {
      const ws = await workspace();
      const script =
        `mkdir gone && cd gone && rmdir ` +
        `../gone && exec ${JSON.stringify(process.execPath)} ${JSON.stringify(cliPath)} status --json`;
      const result = await ws.runCommand("sh", ["-c", script]);
      expect(result.code).toBe(70);
      expect(errorOf(result.stdout, result.stderr)).toMatchObject({
        code: "E_INTERNAL",
        message: expect.stringContaining("a bug"),
      });
      expect(result.stderr).toMatch(/^aciimg: unexpected error/);
      expect(result.stderr).toMatch(/\n\s+at /);
    },
  );

  it("process --json stopped by SIGINT prints its file lines and summary, then E_ABORTED, exit 130", async () => {
    const ws = await workspace();
    const dir = join(ws.dir, "many");
    await mkdir(dir);
    for (let i = 0; i < 40; i++) await writeJpeg(join(dir, `m-${String(i).padStart(2, "0")}.jpg`), 900, 600);
    const child = ws.start(["process", "many", "--resize", "300x200", "-o", "out/", "--json", "--concurrency", "1"]);
    let stdout = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    let closed = false;
    const exit = new Promise<number | null>((resolve) =>
      child.once("close", (code) => ((closed = true), resolve(code))),
    );
    await until(() => stdout.includes('"status":"ok"') || closed, "the batch to finish its first image", 60_000);
    child.kill("SIGINT");
    expect(await exit).toBe(130);
    const lines = jsonLines(stdout);
    expect(lines.some((line) => line.status === "ok")).toBe(true);
    expect(lines.findIndex((line) => "summary" in line)).toBe(lines.length - 2);
    expect(errorOf(stdout).code).toBe("E_ABORTED");
  }, 90_000);
});

describe("aciimg with no command", () => {
  it("prints the help on stderr and exits 2", async () => {
    const ws = await workspace();
    const result = await ws.run([]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^Usage: aciimg \[options\] \[command\]/);
    expect(result.stderr).toContain("  process");
  });
});

describe("status of a backend killed with kill -9", () => {
  it("says it is gone and what starts a new one, with no idle time or reap countdown", async () => {
    const ws = await workspace();
    const up = await ws.run(["up"]);
    expect(up.code, up.stderr).toBe(0);
    const pid = (await ws.state()).backends.default?.pid as number;
    expect(isProcessAlive(pid)).toBe(true);
    process.kill(pid, "SIGKILL");
    await until(() => !isProcessAlive(pid), `backend ${pid} to die`);

    const human = await ws.run(["status"]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^state: +gone$/m);
    expect(human.stdout).not.toMatch(/reaped in|^idle:/m);
    expect(human.stdout).toMatch(/^next: +.*gone.*aciimg process or aciimg up starts a new one/m);

    const json = await ws.run(["status", "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({ provider: "local", name: "default", state: "gone" });
    expect(report).not.toHaveProperty("reapInMs");
    expect(report).not.toHaveProperty("idleMs");

    // As promised: the next up starts a new backend.
    const again = await ws.run(["up", "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ created: true });
  });
});

describe("serve --help", () => {
  it(
    "has an example that works when pasted: " + "a random key in ACIIMG_SERVE_KEY, and curl sending it as API-Key",
    async () => {
      const ws = await workspace();
      const result = await ws.run(["serve", "--help"]);
      expect(result.code).toBe(0);
      const examples = result.stdout.slice(result.stdout.indexOf("Examples:"));
      // A key printed in the help would be pasted as it is: the example makes one.
      expect(examples).toMatch(/^ {2}\$ export ACIIMG_SERVE_KEY=\$\(openssl rand -hex 32\)$/m);
      expect(examples).toMatch(/^ {2}\$ aciimg serve --port 8080 &$/m);
      const curl = examples.split("\n").find((line) => line.includes("curl")) ?? "";
      expect(curl).toContain(`-H "API-Key: $ACIIMG_SERVE_KEY"`);
      expect(curl).toMatch(/http:\/\/127\.0\.0\.1:8080\//);
    },
  );
});
