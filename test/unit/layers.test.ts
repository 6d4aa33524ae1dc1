/**
 * Dependencies point one way (DESIGN.md §2, "may import"): every relative import in src/ (static,
 * re-export, dynamic; type-only or not) is checked against the table. Where the code and the table
 * differ today, the difference is listed below as a named exception, so a new one fails here.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const srcDir = resolve(import.meta.dirname, "../../src");

/** Helpers several layers need (DESIGN.md §2): anyone may import them. */
const neutral = new Set(["errors", "units", "clock", "host-process", "atomic-write", "private-dir", "read-fully"]);

/** The §2 table for the folders it constrains; `types` lists what may be imported for types only. */
const table: Record<string, { values: string[]; types?: string[] }> = {
  protocol: { values: [] },
  client: { values: ["protocol"] },
  engine: { values: ["client"] },
  providers: { values: ["client"], types: ["engine", "config"] },
  state: { values: [], types: ["engine"] },
  backend: { values: ["protocol"] },
  http: { values: ["engine", "protocol"] },
  functions: { values: ["http", "engine", "compose", "config"] },
  cli: { values: ["compose", "engine", "config", "protocol", "client", "http", "backend"] },
};

/**
 * Value imports the table does not allow, by importing folder, imported module and names. Each is
 * a constant or a pure function of the module it comes from, not a dependency on its logic, or
 * (cli → state/blob) the one way aciimg reaches a blob container, shared rather than copied.
 */
const exceptions: Array<{ from: string; module: string; names: string[]; why: string }> = [
  // The state schema's version is a constant of the State contract, declared beside it.
  { from: "state", module: "engine/types", names: ["STATE_VERSION"], why: "the State contract's version constant" },
  // Config helpers the providers share with the CLI's config: one definition of the name rule,
  // the default state directory (local registry beside it) and the spec derived from a config.
  {
    from: "providers",
    module: "config",
    names: ["isStateKey", "stateKeyParts", "defaultStatePath", "backendSpecOf"],
    why: "config values the providers need",
  },
  // The rendition cache's blob form opens its container as the blob state store does (a SAS, the
  // connection string, else DefaultAzureCredential) and words its errors and URL alike: one way to reach
  // a container, and one redaction of its secrets.
  {
    from: "cli",
    module: "state/blob",
    names: ["openContainer", "redactUrl", "statusOf"],
    why: "how aciimg opens a blob container, redacts its URL and reads an SDK error",
  },
];

/** Type-only imports the table does not allow. */
const typeExceptions: Array<{ from: string; module: string; why: string }> = [
  // The blob store is configured by a config type (container, blob name, connection).
  { from: "state", module: "config", why: "BlobStateConfig" },
  // The Clock interface is declared with the engine's contracts; the system clock implements it.
  { from: "clock", module: "engine/types", why: "Clock" },
];

interface Import {
  file: string;
  /** Path under src/ without extension, e.g. "engine/types". */
  module: string;
  isTypeOnly: boolean;
  /** Value names imported; "*" for a namespace, side-effect or dynamic import. */
  names: string[];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

// Statements at the start of a line: `import [type] <clause> from "…"`, `export [type] <clause> from "…"`.
const statement =
  /^(import|export)\s+(type\s+)?((?:[\w$]+\s*,\s*)?(?:\{[^}]*\}|\*(?:\s+as\s+[\w$]+)?|[\w$]+))\s*from\s*"([^"]+)"/gm;
const sideEffect = /^import\s+"([^"]+)"/gm;
const dynamic = /(typeof\s+)?\bimport\(\s*"([^"]+)"\s*\)/g;

/**
 * Static imports and re-exports, and dynamic `import("…")`, with whether each is for types only.
 * TypeScript 7 has no JS parser API, so the forms aciimg uses are matched directly; the first test
 * below checks that they are found.
 */
function importsOf(path: string): Import[] {
  const text = readFileSync(path, "utf8");
  const file = relative(srcDir, path);
  const found: Import[] = [];
  const add = (specifier: string, isTypeOnly: boolean, names: string[]) => {
    if (!specifier.startsWith(".")) return;
    const module = relative(srcDir, resolve(dirname(path), specifier)).replace(/\.(js|ts)$/, "");
    found.push({ file, module, isTypeOnly, names });
  };
  for (const [, , typeKeyword, clause, specifier] of text.matchAll(statement)) {
    const braces = /\{([^}]*)\}/.exec(clause as string);
    const hasWhole = !braces || /^[\w$]+\s*,/.test(clause as string);
    const elements = (braces?.[1] ?? "")
      .split(",")
      .map((element) => element.trim())
      .filter((element) => element.length > 0);
    const values = elements
      .filter((element) => !element.startsWith("type "))
      .map((element) => element.split(/\s+as\s+/)[0] as string);
    const names = hasWhole ? ["*", ...values] : values;
    add(specifier as string, typeKeyword !== undefined || names.length === 0, names);
  }
  for (const [, specifier] of text.matchAll(sideEffect)) add(specifier as string, false, ["*"]);
  for (const [, typeofKeyword, specifier] of text.matchAll(dynamic))
    add(specifier as string, typeofKeyword !== undefined, ["*"]);
  return found;
}

/** "engine/types" → "engine"; "config" → "config"; neutral modules keep their name. */
const partOf = (module: string): string => module.split("/")[0] as string;

const imports = sourceFiles(srcDir).flatMap(importsOf);

/** What breaks the table: one line per import, for a readable failure. */
function violations(): string[] {
  return imports.flatMap(({ file, module, isTypeOnly, names }) => {
    const from = partOf(file.replace(/\.ts$/, ""));
    const to = partOf(module);
    if (from === to || neutral.has(to)) return [];
    const line = `${file} imports ${isTypeOnly ? "types from " : ""}${module}`;
    if (neutral.has(from)) {
      return typeExceptions.some((e) => e.from === from && e.module === module) && isTypeOnly
        ? []
        : [`${line} (a neutral module imports only neutral modules)`];
    }
    const rule = table[from];
    // compose.ts, config.ts, index.ts: the composition root and the library entry import anything below.
    if (!rule) return [];
    if (rule.values.includes(to)) return [];
    if (isTypeOnly && (rule.types?.includes(to) || typeExceptions.some((e) => e.from === from && e.module === module)))
      return [];
    if (!isTypeOnly) {
      const excepted = exceptions.find((e) => e.from === from && e.module === module);
      const isCovered =
        excepted && (excepted.names.includes("*") || names.every((name) => excepted.names.includes(name)));
      if (isCovered) return [];
    }
    return [line + (isTypeOnly ? "" : ` (${names.join(", ")})`)];
  });
}

describe("layers (DESIGN.md §2 may-import table)", () => {
  it("reads the imports of every source file", () => {
    expect(imports.length).toBeGreaterThan(100);
    const has = (file: string, module: string, isTypeOnly: boolean) =>
      imports.some((entry) => entry.file === file && entry.module === module && entry.isTypeOnly === isTypeOnly);
    expect(has("state/file.ts", "state/lock", false)).toBe(true); // import { withLock } from
    expect(has("state/lock.ts", "engine/types", true)).toBe(true); // import type { Clock } from
    expect(has("engine/types.ts", "client/types", true)).toBe(true); // export type { … } from
    expect(has("cli/program.ts", "cli/batch/run", false)).toBe(true); // await import("…")
  });

  it("protocol/ is the leaf: it imports no other part", () => {
    expect(imports.filter((entry) => entry.file.startsWith("protocol/")).length).toBeGreaterThan(10);
    const outside = (entry: Import) => !entry.module.startsWith("protocol/") && !neutral.has(entry.module);
    expect(imports.filter((entry) => entry.file.startsWith("protocol/") && outside(entry))).toEqual([]);
  });

  it("client/ imports only the protocol, and the protocol never the client", () => {
    expect(imports.filter((entry) => entry.file.startsWith("client/")).length).toBeGreaterThan(10);
    const outside = (entry: Import) =>
      !["client", "protocol"].includes(partOf(entry.module)) && !neutral.has(entry.module);
    expect(imports.filter((entry) => entry.file.startsWith("client/") && outside(entry))).toEqual([]);
    const intoClient = imports.filter(
      (entry) => entry.file.startsWith("protocol/") && partOf(entry.module) === "client",
    );
    expect(intoClient).toEqual([]);
  });

  it("cli/commands/ is thin: only the program loads a command, and the batch reads its options' types", () => {
    const intoCommands = imports.filter(
      (entry) => entry.module.startsWith("cli/commands/") && !entry.file.startsWith("cli/commands/"),
    );
    expect(intoCommands.filter((entry) => entry.file !== "cli/program.ts" && !entry.isTypeOnly)).toEqual([]);
    expect(imports.filter((entry) => entry.file.startsWith("cli/batch/")).length).toBeGreaterThan(10);
  });

  it("engine/ names no concrete provider, store or surface", () => {
    const forbidden = ["providers", "state", "cli", "http", "backend", "functions", "compose"];
    expect(
      imports.filter((entry) => entry.file.startsWith("engine/") && forbidden.includes(partOf(entry.module))),
    ).toEqual([]);
  });

  it("no source file is over 300 lines (a file is one idea; past that, split it by meaning)", () => {
    const lineCount = (path: string) => readFileSync(path, "utf8").trimEnd().split("\n").length;
    const long = sourceFiles(srcDir)
      .map((path) => ({ file: relative(srcDir, path), lines: lineCount(path) }))
      .filter((entry) => entry.lines > 300);
    expect(long).toEqual([]);
  });

  it("every import follows the table or a listed exception", () => {
    expect(violations()).toEqual([]);
  });
});
