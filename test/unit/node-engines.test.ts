import { readFileSync } from "node:fs";
import semver from "semver";
import { describe, expect, it } from "vitest";

// What npm reads from a lockfile entry to decide where a package installs (npm-install-checks' checkEngine).
interface LockedPackage {
  version?: string;
  engines?: { node?: unknown } | string[];
  os?: string[];
  cpu?: string[];
}

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), "utf8");
const declared: string = JSON.parse(read("package.json")).engines.node;
const lock: { packages: Record<string, LockedPackage> } = JSON.parse(read("package-lock.json"));

// The lowest version of each range we declare: "^20.19.0 || ^22.13.0 || >=24.0.0" gives 20.19.0, 22.13.0, 24.0.0.
const floors = declared.split("||").map((part) => semver.minVersion(part)?.version ?? `no version in "${part}"`);

// The exact Node versions .ci/node-versions installs and runs the tests on.
const ciPins = /^NODE_PINS=\(([^)]*)\)/m.exec(read(".ci/node-versions"))?.[1]?.trim().split(/\s+/) ?? [];

// sharp publishes its 32-bit Windows binary for Node 20 only (@img/sharp-win32-ia32 declares "^20.9.0"); the README
// says aciimg runs there on Node 20 only, so packages built for that platform alone answer for Node 20 only.
const isNode20Only = (entry: LockedPackage) => entry.os?.join() === "win32" && entry.cpu?.join() === "ia32";

// Each locked package whose engines.node refuses one of `versions`, as "path@version needs RANGE, not VERSION".
function refusals(versions: string[]): string[] {
  return Object.entries(lock.packages).flatMap(([path, entry]) => {
    // npm ignores engines given as an array (old format) and anything but a string range for node.
    const wanted = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
    if (path === "" || typeof wanted !== "string") return [];
    const checked = isNode20Only(entry) ? versions.filter((version) => semver.major(version) === 20) : versions;
    return checked
      .filter((version) => !semver.satisfies(version, wanted, { includePrerelease: true }))
      .map((version) => `${path}@${entry.version} needs ${wanted}, not ${version}`);
  });
}

describe("package.json engines and package-lock.json", () => {
  it("declare Node 20, 22 and 24, the lockfile's own root entry agreeing", () => {
    expect(floors.map((floor) => semver.valid(floor) && semver.major(floor))).toEqual([20, 22, 24]);
    expect(lock.packages[""]?.engines).toEqual({ node: declared });
  });

  it("every locked package admits the lowest declared version of each major", () => {
    expect(refusals(floors)).toEqual([]);
  });

  it("the Node versions CI pins are declared, and every locked package admits them", () => {
    expect(ciPins.map((pin) => semver.major(pin))).toEqual([22, 24]);
    expect(ciPins.filter((pin) => !semver.satisfies(pin, declared))).toEqual([]);
    expect(refusals(ciPins)).toEqual([]);
  });
});
