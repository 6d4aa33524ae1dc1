/**
 * Single-flight across processes (DESIGN.md §1): twenty processes call `ensure` at once on a cold
 * state; exactly one backend is started and all of them use it. Each child runs the built
 * composition root (dist/compose.js) as the CLI does.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { localRunDir } from "../../src/compose.js";
import { loadConfig } from "../../src/config.js";
import { createLocalProvider } from "../../src/providers/local/local.js";

const repo = new URL("../../", import.meta.url);
const dist = (path: string): string => new URL(`dist/${path}`, repo).href;

function ensureInChild(
  cwd: string,
  statePath: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `
    const { loadConfig } = await import(${JSON.stringify(dist("config.js"))});
    const { openEngine } = await import(${JSON.stringify(dist("compose.js"))});
    const options = { provider: "local", state: ${JSON.stringify(statePath)}, cpu: 1 };
    const config = loadConfig(options, {}, ${JSON.stringify(cwd)});
    const engine = await openEngine(config);
    try {
      const result = await engine.ensure();
      const { record, created, readyMs } = result;
      process.stdout.write(JSON.stringify({ id: record.id, created, readyMs }) + "\\n");
    } finally {
      await engine.close();
    }`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    // "close", not "exit": a child's exit can be seen before the last of its output is read.
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("ensure across processes", () => {
  let dir = "";
  afterEach(async () => {
    const config = loadConfig({ provider: "local", state: join(dir, "state.json") }, {}, dir);
    const provider = createLocalProvider({ env: {}, logDir: localRunDir(config) });
    for (const ref of await provider.list()) await provider.delete(ref);
    await rm(dir, { recursive: true, force: true });
  });

  it("20 processes started at once on a cold state start exactly one backend", async () => {
    dir = await mkdtemp(join(tmpdir(), "aciimg-flight-"));
    const statePath = join(dir, "state.json");
    const results = await Promise.all(Array.from({ length: 20 }, () => ensureInChild(dir, statePath)));
    const transcript = results
      .map((result, index) => `#${index} exit ${result.code}: ${result.stdout.trim()} ${result.stderr.trim()}`)
      .join("\n");
    for (const result of results) expect(result.code, transcript).toBe(0);
    const outcomes = results.map((result) => JSON.parse(result.stdout) as { id: string; created: boolean });
    expect(
      outcomes.filter((outcome) => outcome.created),
      transcript,
    ).toHaveLength(1);
    expect(new Set(outcomes.map((outcome) => outcome.id)).size).toBe(1);
    const config = loadConfig({ provider: "local", state: statePath }, {}, dir);
    const listed = await createLocalProvider({ env: {}, logDir: localRunDir(config) }).list();
    expect(listed.map((ref) => ref.id)).toEqual([outcomes[0]?.id]);
  });
});
