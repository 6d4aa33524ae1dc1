/**
 * go-format.ts prints what Go's fmt prints for imaginary's error texts: `%q` of a string, and of a
 * pipeline param value as encoding/json decodes it into interface{}. The expected strings were
 * printed by real Go (test/fixtures/go-format/main.go, which says how to regenerate them).
 */
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { goQuote, goValue } from "../../src/protocol/go-format.js";

interface GoCase {
  json: string;
  q: string;
}
const fixture = JSON.parse(readFileSync(new URL("../fixtures/go-format.json", import.meta.url), "utf8")) as {
  go: string;
  cases: GoCase[];
};

describe(`%q as ${fixture.go} prints it`, () => {
  test("the fixture covers strings, numbers, bools, null, arrays and objects", () => {
    const kinds = new Set(
      fixture.cases.map((c) => {
        const v: unknown = JSON.parse(c.json);
        return Array.isArray(v) ? "array" : v === null ? "null" : typeof v;
      }),
    );
    expect([...kinds].sort()).toEqual(["array", "boolean", "null", "number", "object", "string"]);
  });

  test.each(fixture.cases)("goValue($json) is $q", ({ json, q }) => {
    expect(goValue(JSON.parse(json))).toBe(q);
  });

  const strings = fixture.cases.filter((c) => typeof JSON.parse(c.json) === "string");
  test.each(strings)("goQuote($json) is $q", ({ json, q }) => {
    expect(goQuote(JSON.parse(json) as string)).toBe(q);
  });
});
