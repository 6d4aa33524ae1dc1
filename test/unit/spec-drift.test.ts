import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { driftWarning, oversizeMessage } from "../../src/cli/backend-settings.js";
import { loadConfig } from "../../src/config.js";
import { specDrift } from "../../src/engine/spec-drift.js";
import type { BackendSpec } from "../../src/engine/types.js";
import { formatBytes } from "../../src/units.js";

const spec: BackendSpec = {
  name: "default",
  image: "nextcloud/aio-imaginary:20260929_105435",
  cpu: 2,
  memoryInGB: 1.5,
  location: "westeurope",
  maxUploadBytes: 20e6,
  maxResolutionMP: 18,
};
const local = { provider: "local", name: "default" } as const;

describe("specDrift", () => {
  it("finds nothing when the running backend has the requested settings", () => {
    expect(specDrift(spec, { ...spec }, "aci")).toEqual([]);
    expect(specDrift(spec, { ...spec }, "local")).toEqual([]);
  });

  it("reports a raised upload limit with both values", () => {
    expect(specDrift(spec, { ...spec, maxUploadBytes: 60e6 }, "local")).toEqual([
      { setting: "maxUploadBytes", running: 20e6, requested: 60e6 },
    ]);
  });

  it("compares on local only what a local backend uses: limits and CPUs, not image, memory or region", () => {
    const requested = { ...spec, cpu: 4, maxResolutionMP: 40, image: "other:1", memoryInGB: 4, location: "eastus" };
    expect(specDrift(spec, requested, "local").map((d) => d.setting)).toEqual(["maxResolutionMP", "cpu"]);
  });

  it("compares on aci also the image, the memory and the region", () => {
    const requested = { ...spec, image: "other:1", memoryInGB: 4, location: "eastus" };
    expect(specDrift(spec, requested, "aci")).toEqual([
      { setting: "memoryInGB", running: 1.5, requested: 4 },
      { setting: "image", running: spec.image, requested: "other:1" },
      { setting: "location", running: "westeurope", requested: "eastus" },
    ]);
  });

  it("takes ARM's two spellings of a region as the same region", () => {
    expect(specDrift(spec, { ...spec, location: "West Europe" }, "aci")).toEqual([]);
  });

  it("leaves out a setting the record does not carry (a state from an older aciimg)", () => {
    const { maxResolutionMP: _dropped, ...older } = spec;
    expect(specDrift(older, { ...spec, maxResolutionMP: 40 }, "local")).toEqual([]);
  });

  it("ignores the name: it is the backend's identity, not a setting", () => {
    expect(specDrift(spec, { ...spec, name: "thumbs" }, "aci")).toEqual([]);
  });
});

describe("driftWarning", () => {
  it("is undefined without drift", () => {
    expect(driftWarning(local, [])).toBeUndefined();
  });

  it("names the backend, both sizes, where the setting comes from, and `aciimg down`", () => {
    const warning = driftWarning(local, specDrift(spec, { ...spec, maxUploadBytes: 60e6 }, "local"));
    expect(warning).toBe(
      'the running local backend "default" was started with max upload 20 MB where 60 MB is configured now ' +
        '(ACIIMG_MAX_SIZE or config "maxSize"); ' +
        "a backend keeps its settings while it runs: run `aciimg down` and retry to apply the new settings",
    );
  });

  it("names only flags that exist on every command: none for the limits, --cpu for CPUs", () => {
    const warning =
      driftWarning(local, specDrift(spec, { ...spec, maxUploadBytes: 60e6, maxResolutionMP: 40, cpu: 4 }, "local")) ??
      "";
    expect(warning).not.toMatch(/--max-size|--max-resolution/);
    expect(warning).toContain(
      'max resolution 18 MP where 40 MP is configured now (ACIIMG_MAX_RESOLUTION or config "maxResolution")',
    );
    expect(warning).toContain('CPUs 2 where 4 is configured now (--cpu, ACIIMG_CPU or config "cpu")');
  });

  it("shows exact bytes when rounding would make the two limits look alike", () => {
    const warning = driftWarning(local, specDrift(spec, { ...spec, maxUploadBytes: 20e6 + 1 }, "local"));
    expect(warning).toContain("max upload 20000000 bytes where 20000001 bytes is configured now");
  });

  it("tells `up` and `serve` the command that applies the settings for them", () => {
    const drift = specDrift(spec, { ...spec, cpu: 4 }, "local");
    expect(driftWarning(local, drift, "up")).toMatch(/run `aciimg down && aciimg up` to apply the new settings$/);
    expect(driftWarning(local, drift, "serve")).toMatch(
      /run `aciimg down` to apply the new settings \(this server then starts a new backend on its next request\)$/,
    );
  });
});

describe("oversizeMessage", () => {
  const record = { provider: "local" as const, name: "default", spec };

  it("is undefined for an input within the running backend's limit", () => {
    expect(oversizeMessage(20e6, record, { maxUploadBytes: 60e6 })).toBeUndefined();
  });

  it("says the running backend predates the raised limit, and to run `aciimg down`", () => {
    expect(oversizeMessage(25_200_000, record, { maxUploadBytes: 60e6 }, "huge.jpg")).toBe(
      'huge.jpg is 25.2 MB, more than the 20 MB the running local backend "default" accepts: ' +
        "it was started before the limit " +
        'became 60 MB (ACIIMG_MAX_SIZE or config "maxSize"); run `aciimg down` and retry',
    );
  });

  it("says to raise the setting when the configured limit is too small as well", () => {
    expect(oversizeMessage(25_200_000, record, { maxUploadBytes: 20e6 })).toBe(
      'the image is 25.2 MB, more than the 20 MB the running local backend "default" accepts: ' +
        'raise ACIIMG_MAX_SIZE or config "maxSize" above 25.2 MB, then run `aciimg down` and retry',
    );
    expect(oversizeMessage(25_200_000, record, { maxUploadBytes: 22e6 })).toContain(
      'raise ACIIMG_MAX_SIZE or config "maxSize" (configured now: 22 MB) above 25.2 MB',
    );
  });
});

describe("formatBytes", () => {
  it("uses the decimal units parseBytes reads", () => {
    expect([512, 1000, 1_500, 20e6, 25_200_000, 999_999, 1.5e9].map(formatBytes)).toEqual([
      "512 B",
      "1 KB",
      "1.5 KB",
      "20 MB",
      "25.2 MB",
      "1 MB",
      "1.5 GB",
    ]);
  });
});

describe("config errors name where a bad value was set", () => {
  it("names the environment variable, not a flag the command may not have", () => {
    expect(() => loadConfig({}, { ACIIMG_MAX_SIZE: "huge" }, "/nonexistent")).toThrow(
      /^ACIIMG_MAX_SIZE: expected a size/,
    );
    expect(() => loadConfig({}, { ACIIMG_MAX_RESOLUTION: "-1" }, "/nonexistent")).toThrow(
      /^ACIIMG_MAX_RESOLUTION: expected/,
    );
    expect(() => loadConfig({}, { ACIIMG_IDLE: "5 parsecs" }, "/nonexistent")).toThrow(
      /^ACIIMG_IDLE: expected a duration/,
    );
    expect(() => loadConfig({}, { PORT: "http" }, "/nonexistent")).toThrow(/^PORT: expected a port/);
  });

  it("names the config file key and the file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "aciimg-config-"));
    try {
      await writeFile(join(dir, "aciimg.config.json"), JSON.stringify({ maxSize: "huge" }));
      expect(() => loadConfig({}, {}, dir)).toThrow(`"maxSize" in ${join(dir, "aciimg.config.json")}: expected a size`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("names the flag when the flag set it", () => {
    expect(() => loadConfig({ maxSize: "huge" }, { ACIIMG_MAX_SIZE: "60MB" }, "/nonexistent")).toThrow(
      /^--max-size: expected/,
    );
    expect(() => loadConfig({ cpu: "0" }, {}, "/nonexistent")).toThrow(/^--cpu: expected/);
  });
});
