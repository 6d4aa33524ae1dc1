import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { errorCodes } from "../../src/errors.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const cliReference = readFileSync(new URL("../../docs/cli.md", import.meta.url), "utf8");

function section(markdown: string, file: string, title: string): string {
  const start = markdown.indexOf(`## ${title}\n`);
  expect(start, `${file} has a "## ${title}" section`).toBeGreaterThanOrEqual(0);
  const end = markdown.indexOf("\n## ", start + 1);
  return markdown.slice(start, end === -1 ? undefined : end);
}

describe("README and the CLI reference", () => {
  it("docs/cli.md documents exactly the exit code of every error code in errors.ts", () => {
    const exitCodes = section(cliReference, "docs/cli.md", "Exit codes");
    const rows = [...exitCodes.matchAll(/^\| `(E_[A-Z_]+)` \| (\d+) \|/gm)].map((m) => [m[1], Number(m[2])]);
    expect(Object.fromEntries(rows)).toEqual({ ...errorCodes });
    expect(rows).toHaveLength(Object.keys(errorCodes).length);
  });

  it("has a two-command quick start: install + process the shipped sample, then the tests", () => {
    const quickStart = section(readme, "README.md", "Quick start");
    const commands = /```sh\n([\s\S]*?)```/.exec(quickStart)?.[1]?.trim().split("\n") ?? [];
    expect(commands).toHaveLength(2);
    expect(commands[0]).toMatch(/^npm ci && npx aciimg process examples\/sample\.jpg /);
    expect(commands[1]).toBe("npm test");
  });
});
