/** The backend's reused input buffers (src/backend/buffers.ts). */
import { describe, expect, it } from "vitest";
import { createBufferPool } from "../../src/backend/buffers.js";

describe("buffer pool", () => {
  it("hands back a buffer of exactly the size asked, reusing a given-back one that fits", () => {
    const pool = createBufferPool(2);
    const first = pool.take(1000);
    expect(first.length).toBe(1000);
    pool.give(first);
    const second = pool.take(900);
    expect(second.length).toBe(900);
    expect(second.buffer).toBe(first.buffer);
  });

  it("never hands one buffer to two takers: a buffer in use is not reused", () => {
    const pool = createBufferPool(4);
    const a = pool.take(5000);
    const b = pool.take(5000);
    expect(b.buffer).not.toBe(a.buffer);
    pool.give(a);
    pool.give(a); // given back twice by mistake: still only one taker gets it
    const c = pool.take(10);
    const d = pool.take(10);
    expect(c.buffer).toBe(a.buffer);
    expect(d.buffer).not.toBe(a.buffer);
  });

  it("keeps at most `keep` buffers, and none over the size limit", () => {
    const pool = createBufferPool(1);
    const [a, b] = [pool.take(100), pool.take(100)];
    pool.give(a);
    pool.give(b);
    expect(pool.take(100).buffer).toBe(a.buffer);
    expect(pool.take(100).buffer).not.toBe(b.buffer);
    const huge = pool.take(40 * 1024 * 1024);
    pool.give(huge);
    expect(pool.take(40 * 1024 * 1024).buffer).not.toBe(huge.buffer);
  });
});
