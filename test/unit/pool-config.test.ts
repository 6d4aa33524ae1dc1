/**
 * The pool's settings (docs/cli.md "A pool of backends"): `backends` and `withLocal` from flags,
 * environment and the config file; member names (engine/pool-names.ts) that no chosen name can be.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { checkPoolConfig, isPoolOfOne } from "../../src/compose.js";
import { isStateKey, loadConfig } from "../../src/config.js";
import { localMemberName, memberIndex, memberName } from "../../src/engine/pool-names.js";

const dir = mkdtempSync(join(tmpdir(), "aciimg-pool-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const aci = { AZURE_SUBSCRIPTION_ID: "sub", AZURE_RESOURCE_GROUP: "rg" };

describe("pool settings", () => {
  test('backends: flag > ACIIMG_BACKENDS > "backends" in the file > 1', () => {
    const file = join(dir, "pool.json");
    writeFileSync(file, JSON.stringify({ backends: 3, withLocal: true }));
    expect(loadConfig({}, {}, dir)).toMatchObject({ backends: 1, withLocal: false });
    expect(loadConfig({ config: file }, {}, dir)).toMatchObject({ backends: 3, withLocal: true });
    expect(loadConfig({ config: file }, { ACIIMG_BACKENDS: "4", ACIIMG_WITH_LOCAL: "false" }, dir)).toMatchObject({
      backends: 4,
      withLocal: false,
    });
    expect(loadConfig({ config: file, backends: "5", withLocal: true }, { ACIIMG_BACKENDS: "4" }, dir)).toMatchObject({
      backends: 5,
      withLocal: true,
    });
  });

  test("a bad count or switch is a usage error naming where it was set", () => {
    expect(() => loadConfig({ backends: "0" }, {}, dir)).toThrow(
      /--backends: expected a whole number of backends from 1 to 20, got "0"/,
    );
    expect(() => loadConfig({}, { ACIIMG_BACKENDS: "2.5" }, dir)).toThrow(/ACIIMG_BACKENDS: expected a whole number/);
    expect(() => loadConfig({}, { ACIIMG_BACKENDS: "21" }, dir)).toThrow(/from 1 to 20/);
    expect(() => loadConfig({}, { ACIIMG_WITH_LOCAL: "maybe" }, dir)).toThrow(
      /ACIIMG_WITH_LOCAL: expected true or false/,
    );
  });

  test(
    "the local provider refuses a pool; " +
      "withLocal alone changes nothing there; on aci a pool of one is the single backend",
    () => {
      expect(() => checkPoolConfig(loadConfig({ backends: "2" }, {}, dir))).toThrow(
        /--backends: expected 1 on the local provider/,
      );
      expect(isPoolOfOne(loadConfig({ withLocal: true }, {}, dir))).toBe(true);
      expect(isPoolOfOne(loadConfig({}, aci, dir))).toBe(true);
      expect(isPoolOfOne(loadConfig({ withLocal: true }, aci, dir))).toBe(false);
      expect(isPoolOfOne(loadConfig({ backends: "2" }, aci, dir))).toBe(false);
    },
  );

  test("member names: the pool's own name, then <name>--<i>; no chosen name holds '--'", () => {
    expect([1, 2, 12].map((i) => memberName("web", i))).toEqual(["web", "web--2", "web--12"]);
    expect(
      ["web", "web--2", "web--12", "web--1", "web--02", "web--x", "web-2", "webs--2"].map((key) =>
        memberIndex("web", key),
      ),
    ).toEqual([1, 2, 12, undefined, undefined, undefined, undefined, undefined]);
    expect(localMemberName("web")).toBe("web--local");
    expect(() => loadConfig({ name: "a--2" }, {}, dir)).toThrow(/no '--'/);
    expect(["web", "web--2", "web--local"].every(isStateKey)).toBe(true);
    expect(["web--", "--2", "web--2--3", "web--other", "Web"].some(isStateKey)).toBe(false);
  });
});
