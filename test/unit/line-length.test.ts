/**
 * No line of code is over 120 characters. Biome's formatter wraps code at 120 columns but leaves
 * long strings, comments, template literals and regexes as they are; this catches those.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const folders = ["src", "test", "bench", "scripts", "bin", "examples"];
const MAX = 120;
const code = /\.(ts|js|mjs|cjs)$/;
/** Data the code reads (Go's own output, recorded ARM replies) and what the benchmarks write (gitignored). */
const skipped = ["test/fixtures/", "test/arm-sim/recordings/", "bench/out/", "bench/.sim/"];

function codeFiles(): string[] {
  return folders
    .flatMap((folder) =>
      readdirSync(join(root, folder), { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile() && code.test(entry.name))
        .map((entry) => relative(root, join(entry.parentPath, entry.name))),
    )
    .filter((file) => !skipped.some((prefix) => file.startsWith(prefix)))
    .concat(["vitest.config.ts"]);
}

describe("line length", () => {
  it("finds the code: every folder it reads has files", () => {
    const files = codeFiles();
    for (const folder of ["src", "test", "bench", "scripts", "bin"]) {
      expect(
        files.some((file) => file.startsWith(`${folder}/`)),
        folder,
      ).toBe(true);
    }
  });

  it(`no line in src, test, bench, scripts, bin or examples is over ${MAX} characters`, () => {
    const long = codeFiles().flatMap((file) =>
      readFileSync(join(root, file), "utf8")
        .split("\n")
        .flatMap((line, i) => (line.length > MAX ? [`${file}:${i + 1} (${line.length})`] : [])),
    );
    expect(long).toEqual([]);
  });
});
