import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { errorCodes } from "../../src/errors.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

function section(title: string): string {
  const start = readme.indexOf(`## ${title}\n`);
  expect(start, `README has a "## ${title}" section`).toBeGreaterThanOrEqual(0);
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

describe("README", () => {
  it("documents exactly the exit code of every error code in errors.ts", () => {
    const rows = [...section("Exit codes").matchAll(/^\| `(E_[A-Z_]+)` \| (\d+) \|/gm)].map((m) => [m[1], Number(m[2])]);
    expect(Object.fromEntries(rows)).toEqual({ ...errorCodes });
    expect(rows).toHaveLength(Object.keys(errorCodes).length);
  });

  it("has a two-command quick start: install + process the shipped sample, then the tests", () => {
    const commands = /```sh\n([\s\S]*?)```/.exec(section("Quick start"))?.[1]?.trim().split("\n") ?? [];
    expect(commands).toHaveLength(2);
    expect(commands[0]).toMatch(/^npm ci && npx aciimg process examples\/sample\.jpg /);
    expect(commands[1]).toBe("npm test");
  });
});
