/**
 * `aciimg backend`, the internal command the local provider runs: its stdout is a protocol of
 * exactly one line, the key comes from the environment, and SIGTERM ends it cleanly.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { cliPath } from "./cli-harness.js";

describe("aciimg backend", () => {
  it(
    "prints exactly one listening line, " + "serves with the key from the environment, and exits 0 on SIGTERM",
    async () => {
      const key = randomBytes(16).toString("hex");
      const child = spawn(
        process.execPath,
        [cliPath, "backend", "--host", "127.0.0.1", "--port", "0", "--concurrency", "1"],
        {
          env: { PATH: process.env.PATH ?? "", ACIIMG_BACKEND_KEY: key },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let stdout = "";
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const closed = new Promise<number | null>((resolve) => child.once("close", resolve));
      const firstLine = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
          stdout += d.toString();
          if (stdout.includes("\n")) resolve(stdout.slice(0, stdout.indexOf("\n")));
        });
        child.once("close", () => reject(new Error(`backend exited before listening: ${stderr}`)));
      });
      const { listening } = JSON.parse(firstLine) as { listening: { host: string; port: number } };
      expect(listening.host).toBe("127.0.0.1");
      expect(listening.port).toBeGreaterThan(0);

      const base = `http://127.0.0.1:${listening.port}`;
      expect((await fetch(`${base}/health`)).status).toBe(401);
      const health = await fetch(`${base}/health`, { headers: { "API-Key": key } });
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ cpus: expect.any(Number) });

      child.kill("SIGTERM");
      expect(await closed).toBe(0);
      expect(stdout).toBe(`${firstLine}\n`);
      expect(stderr).not.toContain(key);
    },
  );

  it("refuses to start without a key (usage error, exit 2)", async () => {
    const child = spawn(process.execPath, [cliPath, "backend", "--port", "0"], {
      env: { PATH: process.env.PATH ?? "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(/ACIIMG_BACKEND_KEY/);
  });
});
