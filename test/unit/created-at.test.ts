import { describe, expect, test } from "vitest";
import { believedCreatedAt, createdSkewMs, earliestCreated } from "../../src/engine/created-at.js";

const now = Date.parse("2026-12-06T12:00:00.000Z");
const iso = (ms: number): string => new Date(ms).toISOString();

describe("believedCreatedAt", () => {
  test("a date from 2025 on, up to 5 minutes ahead of our clock, is believed", () => {
    expect(believedCreatedAt(iso(now - 3_600_000), now)).toBe(now - 3_600_000);
    expect(believedCreatedAt(iso(now + createdSkewMs), now)).toBe(now + createdSkewMs);
    expect(believedCreatedAt(iso(earliestCreated), now)).toBe(earliestCreated);
  });

  test("a date further ahead, before 2025, or no date at all is unknown", () => {
    const unbelieved = [
      iso(now + createdSkewMs + 1),
      "2999-01-01T00:00:00Z",
      iso(earliestCreated - 1),
      "1970-01-01T00:00:00Z",
      "soon",
      "",
      undefined,
    ];
    for (const claimed of unbelieved) expect(believedCreatedAt(claimed, now), String(claimed)).toBeUndefined();
  });
});
