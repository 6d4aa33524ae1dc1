/**
 * A local run never loads undici (~90-140 ms of start-up): `aciimg process` reaches its backend
 * over a Unix socket with node:http (socket-transport.ts). The resolve hook of cli-usage.test.ts
 * reports every package a run resolves; the first test shows it does see undici when it is loaded,
 * so the second cannot pass by seeing nothing.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliPath, createWorkspace, writeJpeg, type Workspace } from "./cli-harness.js";

let ws: Workspace;
const hook = new URL("./cli-load-hook.mjs", import.meta.url).href;
const register = `data:text/javascript,import{register}from"node:module";register(${JSON.stringify(hook)});`;
const loadedBy = (stderr: string): string[] =>
  [...stderr.matchAll(/^aciimg-test-loaded (\S+)$/gm)].map((m) => m[1] as string);

beforeAll(async () => {
  ws = await createWorkspace("aciimg-e2e-transport-");
  await writeJpeg(join(ws.dir, "photo.jpg"), 600, 400);
  const up = await ws.run(["up", "--json"]);
  expect(up.code, up.stderr).toBe(0);
});
afterAll(async () => {
  await ws.cleanup();
});

describe("the local provider's transport", () => {
  it("the load hook reports undici when something imports it", async () => {
    const result = await ws.runCommand(
      process.execPath,
      ["--import", register, "--input-type=module", "-e", 'await import("undici")'],
      { cwd: fileURLToPath(new URL("../../", import.meta.url)) },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(loadedBy(result.stderr)).toContain("undici");
  });

  it("process on the local provider resizes through the socket without loading undici", async () => {
    const result = await ws.runCommand(process.execPath, [
      "--import",
      register,
      cliPath,
      "process",
      "photo.jpg",
      "--resize",
      "300x200",
      "-o",
      "out.jpg",
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(await sharp(join(ws.dir, "out.jpg")).metadata()).toMatchObject({ width: 300, height: 200, format: "jpeg" });
    expect((await ws.state()).backends).toSatisfy((backends: Record<string, { endpoint: string }>) =>
      Object.values(backends).every((b) => b.endpoint.startsWith("unix:")),
    );
    expect(loadedBy(result.stderr)).not.toContain("undici");
  });
});
