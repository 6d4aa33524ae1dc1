import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliPath, createWorkspace, type Workspace } from "./cli-harness.js";

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace("aciimg-e2e-usage-");
});
afterAll(async () => {
  await ws.cleanup();
});

describe("usage errors exit 2 with one line naming the flag, and start no backend", () => {
  const cases: Array<[string, string[], RegExp]> = [
    [
      "a malformed size",
      ["process", "a.jpg", "--resize", "300by200", "-o", "out/"],
      /^aciimg: --resize: expected WxH such as 300x200, got "300by200"\n$/,
    ],
    [
      "quality 0",
      ["process", "a.jpg", "--quality", "0", "-o", "out/"],
      /^aciimg: --quality: expected a whole number from 1 to 100 such as 80, got "0"\n$/,
    ],
    [
      "a duration in parsecs",
      ["reap", "--idle", "5 parsecs"],
      /^aciimg: --idle: expected a duration such as 90s, 5m or 1h, got "5 parsecs"\n$/,
    ],
    ["an unknown flag", ["process", "a.jpg", "--sharpen", "-o", "out/"], /^aciimg: unknown option '--sharpen'\n$/],
    ["an unknown command", ["statuz"], /^aciimg: unknown command 'statuz' \(Did you mean status\?\)\n$/],
    ["a bad provider", ["status", "--provider", "gcp"], /^aciimg: --provider: expected local or aci, got "gcp"\n$/],
    [
      "a bad rotation",
      ["process", "a.jpg", "--rotate", "45", "-o", "out/"],
      /^aciimg: --rotate: expected 90, 180 or 270, got "45"\n$/,
    ],
    [
      "an unknown --op",
      ["process", "a.jpg", "--op", "sharpen", "-o", "out/"],
      /^aciimg: --op: expected an image operation/,
    ],
    [
      "a --param without --op",
      ["process", "a.jpg", "--param", "width=3", "-o", "out/"],
      /^aciimg: --param: expected KEY=VALUE after an --op NAME/,
    ],
    ["no operation at all", ["process", "a.jpg", "-o", "out/"], /^aciimg: process: nothing to do/],
    [
      "an operation the catalogue refuses",
      ["process", "a.jpg", "--op", "zoom", "-o", "out/"],
      /^aciimg: process: the backend would refuse this request: .*factor/,
    ],
    ["no output for a file", ["process", "a.jpg", "--resize", "30x20"], /^aciimg: -o is required: a file or folder/],
    ["no output for a folder", ["process", "photos/", "--resize", "30x20"], /^aciimg: -o is required: /],
  ];
  for (const [what, args, message] of cases) {
    it(`for ${what}`, async () => {
      const result = await ws.run(args);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe("");
      // Validation happens before the engine: no state was written, so no backend was started.
      expect(existsSync(ws.statePath)).toBe(false);
    });
  }
});

describe("--help", () => {
  for (const command of ["process", "up", "status", "reap", "down", "logs", "serve"]) {
    it(`shows examples for ${command} and exits 0`, async () => {
      const result = await ws.run([command, "--help"]);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Usage: aciimg ${command}`);
      // An example may set the environment it needs first (serve's key), as it would be pasted:
      // inline (`KEY=v aciimg …`) or as an `export` line before it.
      expect(result.stdout).toMatch(/Examples:\n {2}\$ (?:[A-Z_]+=\S+ |export [A-Z_]+=[^\n]+\n {2}\$ )?aciimg /);
    });
  }

  it("lists the commands, but not the internal backend", async () => {
    const result = await ws.run(["--help"]);
    expect(result.code).toBe(0);
    for (const command of ["process", "up", "status", "reap", "down", "logs", "serve"])
      expect(result.stdout).toContain(`  ${command}`);
    expect(result.stdout).not.toMatch(/^\s+backend\b/m);
  });
});

describe("with nothing running", () => {
  it("reap is silent and exits 0", async () => {
    const result = await ws.run(["reap"]);
    expect(result).toMatchObject({ code: 0, stdout: "", stderr: "" });
  });

  it("status --json reports no backend", async () => {
    const result = await ws.run(["status", "--json"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ provider: "local", name: "default", state: "none" });
  });

  it("up --dry-run on local prints the spec and the command with the key masked, and starts nothing", async () => {
    const result = await ws.run(["up", "--dry-run", "--json"]);
    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout) as { provider: string; command: string };
    expect(plan.provider).toBe("local");
    expect(plan.command).toContain("ACIIMG_BACKEND_KEY=***");
    expect(existsSync(ws.statePath)).toBe(false);
  });
});

describe("lazy loading", () => {
  const hook = new URL("./cli-load-hook.mjs", import.meta.url).href;
  const register = `data:text/javascript,import{register}from"node:module";register(${JSON.stringify(hook)});`;
  const loaded = async (args: string[]): Promise<Set<string>> => {
    const result = await ws.runCommand(process.execPath, [
      "--import",
      register,
      fileURLToPath(new URL(cliPath, "file://")),
      ...args,
    ]);
    expect(result.code, result.stderr).toBe(0);
    return new Set([...result.stderr.matchAll(/^aciimg-test-loaded (\S+)$/gm)].map((m) => m[1] as string));
  };

  it("--help loads commander only", async () => {
    expect([...(await loaded(["--help"]))]).toEqual(["commander"]);
  });

  it("status on the local provider never loads the Azure SDK or ora", async () => {
    const packages = await loaded(["status"]);
    expect([...packages].filter((name) => name.startsWith("@azure/") || name === "ora")).toEqual([]);
  });

  it("status, reap and down with no backend load commander only: no HTTP client (undici) either", async () => {
    for (const command of ["status", "reap", "down"]) expect([...(await loaded([command]))]).toEqual(["commander"]);
  });
});
