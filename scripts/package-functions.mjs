#!/usr/bin/env node
/**
 * Builds the Azure Functions deployment zip (`npm run package:functions`), ready for
 * `az functionapp deployment source config-zip --src functions.zip`:
 *
 *   host.json, package.json (without devDependencies and scripts), dist/, and node_modules/ holding
 *   exactly the production dependency closure.
 *
 * The closure comes from `npm ls --omit=dev --parseable --all` over the installed tree and is
 * copied package by package (each package's own files; its nested node_modules entries are listed
 * separately), so no dev dependency can slip in and no registry is contacted. The zip runs on the
 * platform it was built on (sharp's native binary): build it on linux-x64 for a Linux Function App.
 *
 * Usage: node scripts/package-functions.mjs [--out <file.zip>] [--store]
 *   --store  keep entries uncompressed: much faster, about four times larger
 */
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import AdmZip from "adm-zip";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function fail(message) {
  process.stderr.write(`package:functions: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  let out = join(root, "functions.zip");
  let store = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--out" && argv[i + 1]) out = resolve(argv[++i]);
    else if (argv[i] === "--store") store = true;
    else fail(`unknown argument ${JSON.stringify(argv[i])}; usage: package-functions.mjs [--out <file.zip>] [--store]`);
  }
  return { out, store };
}

/** Absolute directories of the installed production packages (root excluded). */
function productionPackages() {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const result = spawnSync(npm, ["ls", "--omit=dev", "--parseable", "--all"], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
  });
  // npm ls exits non-zero for extraneous packages but still prints the tree; an empty output is the failure.
  const dirs = (result.stdout ?? "")
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  if (dirs.length === 0) fail(`npm ls --omit=dev printed nothing (${result.error?.message ?? result.stderr})`);
  return dirs.filter((dir) => resolve(dir) !== root);
}

/** Every regular file under `dir`, skipping nested node_modules (listed on their own) and symlinks. */
function* filesOf(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules") yield* filesOf(path);
    } else if (entry.isFile()) {
      yield path;
    }
  }
}

/** package.json as deployed: what the worker needs (`main`, `type`, dependencies), none of the dev tooling. */
function deployedPackageJson() {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  delete pkg.devDependencies;
  // `prepare` would run tsc if the platform ran `npm install` on deploy; the zip is already built.
  delete pkg.scripts;
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

/**
 * Writes `bytes` to `file` as 0644 at most (adm-zip's `writeZip` makes it 0666, world-writable:
 * anyone on the machine could swap the code that is about to be deployed), through a temporary
 * file in the same directory renamed over it, so a reader never sees half a zip.
 */
function writeAtomically(file, bytes) {
  const temporary = `${file}.${process.pid}.tmp`;
  let created = false;
  try {
    // `wx`: never write through a file (or link) someone planted at the temporary name. The mode
    // is narrowed by the umask, never widened.
    writeFileSync(temporary, bytes, { mode: 0o644, flag: "wx" });
    created = true;
    renameSync(temporary, file);
  } catch (error) {
    if (created) rmSync(temporary, { force: true });
    fail(`cannot write ${file}: ${error.message}`);
  }
}

function main() {
  const { out, store } = parseArgs(process.argv.slice(2));
  const mainFile = join(root, "dist", "functions", "index.js");
  if (!existsSync(mainFile)) fail(`${relative(root, mainFile)} is missing; run \`npm run build\` first`);

  const zip = new AdmZip();
  const add = (file, zipPath) =>
    zip.addFile(zipPath.split(sep).join("/"), readFileSync(file), "", statSync(file).mode & 0o777);

  add(join(root, "host.json"), "host.json");
  zip.addFile("package.json", Buffer.from(deployedPackageJson()));
  for (const file of filesOf(join(root, "dist"))) add(file, relative(root, file));

  const packages = productionPackages();
  let files = 0;
  for (const dir of packages) {
    if (!lstatSync(dir).isDirectory()) continue;
    for (const file of filesOf(dir)) {
      add(file, relative(root, file));
      files += 1;
    }
  }
  if (store) for (const entry of zip.getEntries()) entry.header.method = 0; // STORED
  writeAtomically(out, zip.toBuffer());
  const size = statSync(out).size;
  process.stderr.write(
    `package:functions: wrote ${relative(process.cwd(), out) || out} (${(size / 1e6).toFixed(1)} MB, ` +
      `${packages.length} production packages, ${files} dependency files)\n`,
  );
}

main();
