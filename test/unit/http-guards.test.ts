/**
 * The pure parts of `serve`'s guards: the per-address key throttle, the loopback decision behind
 * the plain-HTTP warning, and the upload budget that holds bytes as they arrive.
 */
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { watchBody } from "../../src/http/body-watch.js";
import { exposureWarning, isLoopbackHost } from "../../src/http/exposure.js";
import { clientOf, createKeyThrottle } from "../../src/http/key-throttle.js";
import { createUploadBudget } from "../../src/http/upload-budget.js";

describe("key throttle", () => {
  it("allows ten failures at once, then one per second, and forgets an address whose allowance refilled", () => {
    let now = 1_000_000;
    const throttle = createKeyThrottle({ now: () => now });
    for (let i = 0; i < 10; i++) {
      expect(throttle.waitMs("203.0.113.7")).toBe(0);
      throttle.failed("203.0.113.7");
    }
    expect(throttle.waitMs("203.0.113.7")).toBe(1000);
    expect(throttle.waitMs("203.0.113.8")).toBe(0);
    now += 400;
    expect(throttle.waitMs("203.0.113.7")).toBe(600);
    now += 600;
    expect(throttle.waitMs("203.0.113.7")).toBe(0);
  });

  it("keeps at most maxAddresses entries, dropping the least recently failing", () => {
    let now = 0;
    const throttle = createKeyThrottle({ burst: 1, maxAddresses: 2, now: () => now });
    for (const address of ["192.0.2.1", "192.0.2.2", "192.0.2.3"]) {
      throttle.failed(address);
      now += 1;
    }
    expect(throttle.waitMs("192.0.2.1")).toBe(0);
    expect(throttle.waitMs("192.0.2.2")).toBeGreaterThan(0);
    expect(throttle.waitMs("192.0.2.3")).toBeGreaterThan(0);
  });

  it("counts an IPv6 /64 as one client, and an IPv4-mapped address as its IPv4 one", () => {
    expect(clientOf("2001:db8:1:2:aaaa::1")).toBe(clientOf("2001:db8:1:2:ffff:ffff:ffff:ffff"));
    expect(clientOf("2001:db8:1:2::1")).not.toBe(clientOf("2001:db8:1:3::1"));
    expect(clientOf("::ffff:198.51.100.4")).toBe("198.51.100.4");
    expect(clientOf("::1")).toBe("0:0:0:0::/64");
  });
});

describe("exposure", () => {
  it("tells loopback addresses from the others", () => {
    for (const host of ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]", "::ffff:127.0.0.1"])
      expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ["0.0.0.0", "::", "198.51.100.5", "203.0.113.2", "example.com", "::ffff:192.0.2.1"])
      expect(isLoopbackHost(host), host).toBe(false);
  });

  it("warns only for a non-loopback address without TLS", () => {
    expect(exposureWarning("0.0.0.0", false)).toMatch(/^WARNING: .*plain HTTP.*--tls-cert/);
    expect(exposureWarning("0.0.0.0", true)).toBeUndefined();
    expect(exposureWarning("127.0.0.1", false)).toBeUndefined();
  });
});

describe("upload budget", () => {
  it("holds what arrived, refuses what does not fit, and gives it all back on release", () => {
    const budget = createUploadBudget(100);
    const first = budget.open();
    const second = budget.open();
    expect(first.grow(60)).toBe(true);
    expect(second.grow(50)).toBe(false);
    expect(second.grow(40)).toBe(true);
    expect(budget.available()).toBe(0);
    first.release();
    first.release();
    expect(budget.available()).toBe(60);
    second.release();
    expect(budget.available()).toBe(100);
  });

  it(
    "charges a watched body chunk by chunk, " + "and refuses it with 503 once the budget cannot hold the next one",
    async () => {
      const budget = createUploadBudget(2000);
      const reservation = budget.open();
      const body = new PassThrough();
      const watch = watchBody(body, { idleMs: 60_000, reserve: (bytes) => reservation.grow(bytes) });
      body.write(Buffer.alloc(1500));
      await new Promise((resolve) => setImmediate(resolve));
      expect(budget.available()).toBe(500);
      expect(watch.signal.aborted).toBe(false);
      body.write(Buffer.alloc(1000));
      await new Promise((resolve) => setImmediate(resolve));
      expect(watch.signal.aborted).toBe(true);
      expect(watch.signal.reason).toMatchObject({ status: 503, headers: { "retry-after": "1" } });
      body.destroy();
    },
  );
});
