import { execFile, spawnSync } from "node:child_process";
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import AdmZip from "adm-zip";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "../..");
let dir: string;
let zip: AdmZip;
let names: Set<string>;

/** Package directories (relative, e.g. node_modules/vitest) that `npm ls` lists, with or without dev. */
function installedPackages(omitDev: boolean): Set<string> {
  const args = ["ls", "--parseable", "--all", ...(omitDev ? ["--omit=dev"] : [])];
  const out = spawnSync("npm", args, { cwd: root, encoding: "utf8", timeout: 60_000 }).stdout;
  return new Set(
    out
      .split("\n")
      .filter((line) => line.startsWith(`${root}/node_modules/`))
      .map((line) => line.slice(root.length + 1)),
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "aciimg-zip-"));
  // A world-writable zip left by an earlier run: the new one must replace it, not write into it.
  await writeFile(join(dir, "functions.zip"), "stale");
  await chmod(join(dir, "functions.zip"), 0o666);
  // Built once for the whole file, entries stored (not deflated) to spare the shared CPUs; the
  // contents are what count here. The script zips dist/ as `npm test` has just built it. Under
  // umask 000, so the file's mode is the script's choice alone.
  await run(
    "sh",
    [
      "-c",
      'umask 000 && exec "$0" "$@"',
      process.execPath,
      join(root, "scripts/package-functions.mjs"),
      "--out",
      join(dir, "functions.zip"),
      "--store",
    ],
    {
      cwd: root,
      timeout: 120_000,
    },
  );
  zip = new AdmZip(join(dir, "functions.zip"));
  names = new Set(zip.getEntries().map((entry) => entry.entryName));
}, 150_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("npm run package:functions", () => {
  it("writes the zip 0644 (not world-writable), replacing an old one whole, and leaves no temporary file", async () => {
    expect(((await stat(join(dir, "functions.zip"))).mode & 0o777).toString(8)).toBe("644");
    expect(await readdir(dir)).toEqual(["functions.zip"]);
  });

  it("holds host.json, package.json and the built functions at the zip's root", async () => {
    expect(names.has("host.json")).toBe(true);
    expect(names.has("package.json")).toBe(true);
    const pkg = JSON.parse(zip.readAsText("package.json")) as {
      main: string;
      type: string;
      devDependencies?: unknown;
      scripts?: unknown;
    };
    expect(names.has(pkg.main)).toBe(true);
    expect(pkg.type).toBe("module");
    expect(pkg.devDependencies).toBeUndefined();
    expect(pkg.scripts).toBeUndefined();
    for (const file of [
      "dist/functions/handlers.js",
      "dist/http/handler.js",
      "dist/state/blob.js",
      "dist/compose.js",
    ]) {
      expect(names.has(file), file).toBe(true);
    }
    const host = JSON.parse(zip.readAsText("host.json")) as { version: string; extensionBundle: { id: string } };
    expect(host.version).toBe("2.0");
    expect(host.extensionBundle.id).toBe("Microsoft.Azure.Functions.ExtensionBundle");
    expect(JSON.parse(await readFile(join(root, "host.json"), "utf8"))).toEqual(host);
  });

  it("holds every production dependency and no dev-only one", () => {
    const production = installedPackages(true);
    const devOnly = [...installedPackages(false)].filter((pkg) => !production.has(pkg));
    expect(devOnly).toEqual(
      expect.arrayContaining([
        "node_modules/vitest",
        "node_modules/typescript",
        "node_modules/azurite",
        "node_modules/adm-zip",
      ]),
    );
    for (const pkg of production) expect(names.has(`${pkg}/package.json`), pkg).toBe(true);
    const leaked = devOnly.filter((pkg) => [...names].some((name) => name.startsWith(`${pkg}/`)));
    expect(leaked).toEqual([]);
  });

  it("unpacks into an app whose main loads with only the zipped dependencies", async () => {
    const app = join(dir, "app");
    zip.extractAllTo(app, true);
    const probe =
      `const m = await import(${JSON.stringify(join(app, "dist/functions/index.js"))}); ` +
      `console.log(JSON.stringify(Object.keys(m).sort()));`;
    // Run from the unpacked app with no access to the repository's node_modules.
    const { stdout, stderr } = await run(process.execPath, ["--input-type=module", "-e", probe], {
      cwd: app,
      timeout: 60_000,
    });
    expect(JSON.parse(stdout.trim().split("\n").at(-1) ?? "")).toEqual([
      "cleanup",
      "cleanupTimer",
      "processImage",
      "processTrigger",
    ]);
    // Outside the host, @azure/functions skips registration (docs/reference/arm-notes.md §7) and says so.
    expect(stderr).toContain('register function "process"');
    expect(stderr).toContain('register function "cleanup"');
  }, 60_000);
});
