/**
 * The settings of issue 22, point 5: the built-in backend's max render time (flag > env > file,
 * 1 s to 1 h, default 60 s, reported as drift on local) and the SVG screen's opt-in (flag or
 * environment, never a config file; the screen applies on aci only).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { driftWarning } from "../../src/cli/backend-settings.js";
import { backendSpecOf, loadConfig, screensSvg } from "../../src/config.js";
import { specDrift } from "../../src/engine/spec-drift.js";
import { backendArgs } from "../../src/providers/local/process.js";

const aci = { AZURE_SUBSCRIPTION_ID: "s", AZURE_RESOURCE_GROUP: "g" };

describe("max render time", () => {
  it("is 60 s by default, else ACIIMG_MAX_RENDER_TIME or --max-render-time, and reaches the local backend", () => {
    expect(loadConfig({}, {}).maxRenderTimeMs).toBe(60_000);
    expect(loadConfig({}, { ACIIMG_MAX_RENDER_TIME: "5m" }).maxRenderTimeMs).toBe(300_000);
    const config = loadConfig({ maxRenderTime: "90s" }, { ACIIMG_MAX_RENDER_TIME: "5m" });
    expect(config.maxRenderTimeMs).toBe(90_000);
    expect(backendArgs(backendSpecOf(config), "/s.sock").join(" ")).toMatch(/ --max-render-time 90000ms$/);
  });

  it("refuses values outside 1 s to 1 h, naming the setting", () => {
    const expected = "expected a duration from 1s to 1h";
    expect(() => loadConfig({}, { ACIIMG_MAX_RENDER_TIME: "500ms" })).toThrow(`ACIIMG_MAX_RENDER_TIME: ${expected}`);
    expect(() => loadConfig({ maxRenderTime: "2h" }, {})).toThrow(`--max-render-time: ${expected}`);
  });

  it("is read from a config file, and a running local backend with another one is reported", async () => {
    const dir = await mkdtemp(join(tmpdir(), "aciimg-render-"));
    try {
      await writeFile(join(dir, "aciimg.config.json"), JSON.stringify({ maxRenderTime: "10s" }));
      const requested = backendSpecOf(loadConfig({}, {}, dir));
      expect(requested.maxRenderTimeMs).toBe(10_000);
      const drift = specDrift({ ...requested, maxRenderTimeMs: 60_000 }, requested, "local");
      expect(drift).toEqual([{ setting: "maxRenderTimeMs", running: 60_000, requested: 10_000 }]);
      expect(driftWarning({ provider: "local", name: "default" }, drift)).toMatch(/max render time 1m .*10s/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the SVG screen's switch", () => {
  it("screens on aci only, unless --allow-svg-filters or ACIIMG_ALLOW_SVG_FILTERS says otherwise", () => {
    expect(screensSvg(loadConfig({}, aci))).toBe(true);
    expect(screensSvg(loadConfig({}, {}))).toBe(false); // local: the backend bounds the render
    expect(screensSvg(loadConfig({ allowSvgFilters: true }, aci))).toBe(false);
    expect(screensSvg(loadConfig({}, { ...aci, ACIIMG_ALLOW_SVG_FILTERS: "1" }))).toBe(false);
    const maybe = { ACIIMG_ALLOW_SVG_FILTERS: "maybe" };
    expect(() => loadConfig({}, maybe)).toThrow(/^ACIIMG_ALLOW_SVG_FILTERS: expected true or false/);
  });

  it("cannot be set by a config file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "aciimg-render-"));
    try {
      await writeFile(join(dir, "aciimg.config.json"), JSON.stringify({ allowSvgFilters: true }));
      expect(() => loadConfig({}, aci, dir)).toThrow(/unknown key "allowSvgFilters"/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
