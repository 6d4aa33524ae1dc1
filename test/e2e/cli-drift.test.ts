/**
 * Settings that would silently do nothing (issue 10 §9): a backend keeps the settings it was started
 * with, so a command that finds one running with other settings says so and names `aciimg down`;
 * and no message suggests a flag the command does not have.
 */
import type { ChildProcess } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { jsonLines, workspacesFor } from "./cli-harness.js";

const workspace = workspacesFor("aciimg-e2e-drift-");

/** Resolves once serve's stderr has its "listening on" line; bounded, and fails if serve exits first. */
function listening(child: ChildProcess, stderr: { text: string }, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`serve did not listen within ${timeoutMs} ms:\n${stderr.text}`)),
      timeoutMs,
    );
    const onData = (): void => {
      if (!/listening on http:\/\/127\.0\.0\.1:\d+/.test(stderr.text)) return;
      clearTimeout(timer);
      child.stderr?.off("data", onData);
      resolve();
    };
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before listening:\n${stderr.text}`));
    });
  });
}

/**
 * The exit code once the child (just started) has exited and all its output is read: "close", not
 * "exit", which can be seen before the last lines of stderr are (the log lines a test then checks).
 */
const exitOf = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => child.once("close", (code) => resolve(code)));

describe("a running backend with other settings than configured", () => {
  it("up warns naming both upload limits and `aciimg down`, and down && up applies the new limit", async () => {
    const ws = await workspace();
    const first = await ws.run(["up"], { env: { ACIIMG_MAX_SIZE: "1MB" } });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).not.toContain("warning");

    const raised = await ws.run(["up"], { env: { ACIIMG_MAX_SIZE: "60MB" } });
    expect(raised.code, raised.stderr).toBe(0);
    expect(raised.stdout).toContain("already running");
    const warnings = raised.stderr.split("\n").filter((line) => line.startsWith("aciimg: warning: "));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(
      'local backend "default" was started with max upload 1 MB where 60 MB is configured now',
    );
    expect(warnings[0]).toContain("ACIIMG_MAX_SIZE");
    expect(warnings[0]).toContain("`aciimg down && aciimg up`");

    const same = await ws.run(["up"], { env: { ACIIMG_MAX_SIZE: "1MB" } });
    expect(same.code, same.stderr).toBe(0);
    expect(same.stderr).not.toContain("warning");

    expect((await ws.run(["down"])).code).toBe(0);
    const replaced = await ws.run(["up"], { env: { ACIIMG_MAX_SIZE: "60MB" } });
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.stderr).not.toContain("warning");
  }, 90_000);

  it("up --json keeps stdout one JSON object and warns on stderr", async () => {
    const ws = await workspace();
    expect((await ws.run(["up", "--cpu", "1"])).code).toBe(0);
    const result = await ws.run(["up", "--cpu", "2", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ provider: "local", created: false });
    expect(result.stderr).toMatch(
      new RegExp(
        /^aciimg: warning: .*CPUs 1 where 2 is configured now/.source +
          / \(--cpu, ACIIMG_CPU or config "cpu"\).*`aciimg down && aciimg up`/.source,
        "m",
      ),
    );
  }, 60_000);

  it("serve warns at start-up that the running backend has a smaller upload limit, naming `aciimg down`", async () => {
    const ws = await workspace();
    expect((await ws.run(["up"], { env: { ACIIMG_MAX_SIZE: "1MB" } })).code).toBe(0);
    const child = ws.start(["serve", "--port", "0"], {
      env: { ACIIMG_SERVE_KEY: "e2e-drift-key-0123456789abcdef", ACIIMG_MAX_SIZE: "60MB" },
    });
    const stderr = { text: "" };
    child.stderr?.on("data", (chunk: Buffer) => (stderr.text += chunk.toString()));
    const exited = exitOf(child);
    try {
      await listening(child, stderr);
      expect(stderr.text).toMatch(
        new RegExp(
          /^aciimg: warning: the running local backend "default" was started with max upload 1 MB/.source +
            / where 60 MB is configured now .*run `aciimg down`/.source,
          "m",
        ),
      );
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    }
  }, 60_000);
});

describe("process against a backend started with a smaller upload limit", () => {
  it("warns once, and fails a file over the running limit saying why and naming `aciimg down`; stdin too", async () => {
    const ws = await workspace();
    expect((await ws.run(["up"], { env: { ACIIMG_MAX_SIZE: "1MB" } })).code).toBe(0);
    const big = join(ws.dir, "big.png");
    await sharp({
      create: {
        width: 800,
        height: 800,
        channels: 3,
        background: "#000",
        noise: { type: "gaussian", mean: 128, sigma: 60 },
      },
    })
      .png({ compressionLevel: 0 })
      .toFile(big);
    const size = (await stat(big)).size;
    expect(size).toBeGreaterThan(1_000_000);
    const raised = { env: { ACIIMG_MAX_SIZE: "60MB" } };
    const result = await ws.run(["process", "big.png", "--resize", "10x10", "-o", "out/", "--json"], raised);
    expect(result.code).toBe(1);
    expect(result.stderr.split("\n").filter((line) => line.startsWith("aciimg: warning: "))).toHaveLength(1);
    const [line] = jsonLines(result.stdout);
    expect(line).toMatchObject({ input: "big.png", status: "failed", code: "E_BAD_INPUT" });
    expect(String(line?.error)).toMatch(
      new RegExp(
        /^big\.png is [\d.]+ MB, more than the 1 MB the running local backend "default" accepts/.source +
          /: it was started before the limit became 60 MB .*run `aciimg down` and retry$/.source,
      ),
    );
    const stdin = await ws.run(["process", "-", "--resize", "10x10"], { ...raised, input: await readFile(big) });
    expect(stdin.code).toBe(1);
    expect(stdin.stdoutBytes.length).toBe(0);
    expect(stdin.stderr).toMatch(
      /aciimg: the image on stdin is [\d.]+ MB, more than the 1 MB the running local backend/,
    );
  }, 60_000);
});

describe("messages suggest only flags the command has", () => {
  it("a bad ACIIMG_MAX_SIZE is named as the environment variable, not as --max-size", async () => {
    const ws = await workspace();
    const result = await ws.run(["up"], { env: { ACIIMG_MAX_SIZE: "huge" } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'ACIIMG_MAX_SIZE: expected a size such as 20MB, 512KiB or a number of bytes, got "huge"',
    );
    expect(result.stderr).not.toContain("--max-size");
  });

  it("up --dry-run shows the command line the local provider runs (--cpu, not --concurrency)", async () => {
    const ws = await workspace();
    const result = await ws.run(["up", "--dry-run", "--cpu", "3"]);
    expect(result.code, result.stderr).toBe(0);
    const socket = `${join(dirname(ws.statePath), "local")}/backend-<instance>.sock`;
    expect(result.stdout).toContain(
      `would run: ACIIMG_BACKEND_KEY=*** aciimg backend --socket '${socket}' --max-size 20000000 --max-resolution 18 ` +
        `--cpu 3 --max-render-time 60000ms --idle-exit 300000ms --state ${ws.statePath}\n`,
    );
  });
});
