/**
 * The request timeout (docs/configuration.md "Configuration"): flag > ACIIMG_REQUEST_TIMEOUT > "requestTimeout" in
 * the config file > 2m, checked where it was set; and what its E_REQUEST_TIMEOUT tells a person.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { loadConfig, requestTimeoutAdvice } from "../../src/config.js";
import { isVanished } from "../../src/engine/call-retry.js";
import { AciimgError } from "../../src/errors.js";

const dir = mkdtempSync(join(tmpdir(), "aciimg-request-timeout-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("request timeout setting", () => {
  test('flag > ACIIMG_REQUEST_TIMEOUT > "requestTimeout" in the file > 2m', () => {
    const file = join(dir, "timeout.json");
    writeFileSync(file, JSON.stringify({ requestTimeout: "5m" }));
    expect(loadConfig({}, {}, dir).requestTimeoutMs).toBe(120_000);
    expect(loadConfig({ config: file }, {}, dir).requestTimeoutMs).toBe(300_000);
    expect(loadConfig({ config: file }, { ACIIMG_REQUEST_TIMEOUT: "10m" }, dir).requestTimeoutMs).toBe(600_000);
    expect(
      loadConfig({ config: file, requestTimeout: "90s" }, { ACIIMG_REQUEST_TIMEOUT: "10m" }, dir).requestTimeoutMs,
    ).toBe(90_000);
  });

  test("a bad, zero or over-long value is a usage error naming where it was set", () => {
    expect(() => loadConfig({ requestTimeout: "soon" }, {}, dir)).toThrow(
      /^--request-timeout: expected a duration such as 90s/,
    );
    expect(() => loadConfig({}, { ACIIMG_REQUEST_TIMEOUT: "0" }, dir)).toThrow(
      /^ACIIMG_REQUEST_TIMEOUT: expected a duration above 0 and at most 24h/,
    );
    expect(() => loadConfig({}, { ACIIMG_REQUEST_TIMEOUT: "25h" }, dir)).toThrow(
      /at most 24h, such as 90s, 5m or 1h, got "25h"/,
    );
  });

  test("its advice names every place it can be raised; its error is never taken for a vanished backend", () => {
    for (const place of ["--request-timeout", "ACIIMG_REQUEST_TIMEOUT", '"requestTimeout"'])
      expect(requestTimeoutAdvice).toContain(place);
    expect(isVanished(new AciimgError("E_REQUEST_TIMEOUT", "no answer within 2m"))).toBe(false);
    expect(isVanished(new AciimgError("E_BACKEND_UNREACHABLE", "ECONNREFUSED"))).toBe(true);
  });
});
