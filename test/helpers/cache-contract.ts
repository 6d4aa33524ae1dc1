/**
 * The RenditionCache contract suite (STYLE.md "Contract suites"): the folder cache and the blob
 * cache on Azurite pass the same tests: hits and misses, another runner on the same store, damaged
 * entries as misses with a warning, bounds, concurrent puts of one key, abort and close.
 */
import { createHash } from "node:crypto";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encodeHeader } from "../../src/cli/batch/cache/entry.js";
import type { CachedRendition, CacheOptions, RenditionCache } from "../../src/cli/batch/cache/index.js";

export interface OpenedCache {
  cache: RenditionCache;
  /** What the cache reported through `warn`. */
  warnings: string[];
}

export interface CacheFixture {
  /** Opens a cache on the fixture's store; a second call is another runner on the same store. */
  open(options?: Partial<CacheOptions>): Promise<OpenedCache>;
  /** Writes `data` as the entry of `key`, as someone else might have, bypassing the cache. */
  plant(key: string, data: Buffer): Promise<void>;
  cleanup(): Promise<void>;
}

/** A cache key: the sha256 of `text`. */
export function keyOf(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** A real WebP rendition made by sharp, different for each `seed`, and its meta. */
export async function makeRendition(seed: number, width = 24, height = 16): Promise<CachedRendition> {
  const colour = { r: (seed * 37) % 256, g: (seed * 91) % 256, b: (seed * 13) % 256 };
  const body = await sharp({ create: { width, height, channels: 3, background: colour } })
    .webp({ lossless: true })
    .toBuffer();
  const hash = createHash("sha256").update(body).digest("hex");
  return { meta: { format: "webp", width, height, bytes: body.length, hash }, body };
}

/** The entry file or blob a cache writes for `rendition` under `key`: header, then body. */
export function entryBytes(key: string, rendition: CachedRendition): Buffer {
  return Buffer.concat([encodeHeader(key, rendition.meta), rendition.body]);
}

/** Registers the contract tests for the store `make` sets up (a fresh, empty one per test). */
export function describeRenditionCache(name: string, make: () => Promise<CacheFixture>): void {
  describe(`RenditionCache contract: ${name}`, () => {
    let fixture: CacheFixture;
    beforeEach(async () => {
      fixture = await make();
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it("misses a key never stored, without a warning", async () => {
      const { cache, warnings } = await fixture.open();
      expect(await cache.get(keyOf("never stored"))).toBeUndefined();
      expect(warnings).toEqual([]);
    });

    it("gives back what was stored: the meta and the body", async () => {
      const { cache, warnings } = await fixture.open();
      const rendition = await makeRendition(1);
      await cache.put(keyOf("a"), rendition);
      const got = await cache.get(keyOf("a"));
      expect(got?.meta).toEqual(rendition.meta);
      expect(got?.body.equals(rendition.body)).toBe(true);
      expect((await sharp(got?.body).metadata()).width).toBe(24);
      expect(warnings).toEqual([]);
    });

    it("gives the next runner, a cache opened later on the same store, what the first stored", async () => {
      const first = await fixture.open();
      const rendition = await makeRendition(2);
      await first.cache.put(keyOf("b"), rendition);
      await first.cache.close();
      const next = await fixture.open();
      expect((await next.cache.get(keyOf("b")))?.body.equals(rendition.body)).toBe(true);
      expect([...first.warnings, ...next.warnings]).toEqual([]);
    });

    it("replaces an entry stored again under the same key", async () => {
      const { cache } = await fixture.open();
      await cache.put(keyOf("c"), await makeRendition(3));
      const second = await makeRendition(4, 30, 20);
      await cache.put(keyOf("c"), second);
      expect((await cache.get(keyOf("c")))?.meta).toEqual(second.meta);
    });

    it("misses a damaged entry with a warning naming it, and a put repairs it", async () => {
      const rendition = await makeRendition(5);
      const good = entryBytes(keyOf("d"), rendition);
      const flipped = Buffer.from(good);
      flipped[flipped.length - 3] = (flipped[flipped.length - 3] as number) ^ 0xff;
      const damaged: Record<string, Buffer> = {
        "not an entry": Buffer.from("GIF89a not an entry at all"),
        empty: Buffer.alloc(0),
        "a body byte changed": flipped,
        "cut short": good.subarray(0, good.length - 10),
        "a byte too many": Buffer.concat([good, Buffer.from([0])]),
        "another key's entry": entryBytes(keyOf("not d"), rendition),
        "a meta with width 0": entryBytes(keyOf("d"), { ...rendition, meta: { ...rendition.meta, width: 0 } }),
        "a meta with format bmp": entryBytes(keyOf("d"), { ...rendition, meta: { ...rendition.meta, format: "bmp" } }),
        "a header with no end": Buffer.concat([Buffer.from("aciimg-rendition 1\n{"), Buffer.alloc(2000, 0x20)]),
      };
      for (const [why, data] of Object.entries(damaged)) {
        await fixture.plant(keyOf("d"), data);
        const { cache, warnings } = await fixture.open();
        expect(await cache.get(keyOf("d")), why).toBeUndefined();
        expect(warnings, why).toHaveLength(1);
        expect(warnings[0], why).toMatch(/ignored: .*treated as a miss/);
        expect(warnings[0], why).toContain(keyOf("d").slice(0, 12));
      }
      const { cache, warnings } = await fixture.open();
      await cache.put(keyOf("d"), rendition);
      expect((await cache.get(keyOf("d")))?.body.equals(rendition.body)).toBe(true);
      expect(warnings).toEqual([]);
    });

    it("stores nothing, with a warning, for a rendition whose body does not match its meta", async () => {
      const { cache, warnings } = await fixture.open();
      const rendition = await makeRendition(6);
      await cache.put(keyOf("e"), { ...rendition, meta: { ...rendition.meta, hash: keyOf("other") } });
      await cache.put(keyOf("e"), { ...rendition, meta: { ...rendition.meta, bytes: rendition.body.length + 1 } });
      expect(await cache.get(keyOf("e"))).toBeUndefined();
      expect(warnings).toEqual([
        expect.stringMatching(/not stored: its body's sha256 is not the hash its meta gives$/),
        expect.stringMatching(/not stored: its body is \d+ bytes, its meta says \d+$/),
      ]);
    });

    it("neither stores nor reads a body over the entry bound", async () => {
      const rendition = await makeRendition(7, 64, 64);
      const maxEntryBytes = rendition.body.length - 1;
      const { cache, warnings } = await fixture.open({ maxEntryBytes });
      await cache.put(keyOf("f"), rendition);
      expect(warnings).toEqual([expect.stringContaining(`more than the ${maxEntryBytes} an entry may be`)]);
      await fixture.plant(keyOf("f"), entryBytes(keyOf("f"), rendition));
      expect(await cache.get(keyOf("f"))).toBeUndefined();
      expect(warnings).toHaveLength(2);
      expect(warnings[1]).toMatch(/ignored: .*more than .*an entry may be/);
    });

    it("takes concurrent puts of one key from two runners, and a get among them sees a whole entry", async () => {
      const [a, b] = [await fixture.open(), await fixture.open()];
      const renditions = await Promise.all([8, 9, 10, 11].map((seed) => makeRendition(seed, 40 + seed, 30)));
      const hashes = renditions.map((rendition) => rendition.meta.hash);
      const seen: Array<string | undefined> = [];
      await Promise.all(
        Array.from({ length: 24 }, async (_, i) => {
          const cache = i % 2 === 0 ? a.cache : b.cache;
          if (i % 3 === 0) seen.push((await cache.get(keyOf("g")))?.meta.hash);
          else await cache.put(keyOf("g"), renditions[i % renditions.length] as CachedRendition);
        }),
      );
      for (const hash of seen) if (hash !== undefined) expect(hashes).toContain(hash);
      const last = await a.cache.get(keyOf("g"));
      expect(hashes).toContain(last?.meta.hash);
      expect([...a.warnings, ...b.warnings]).toEqual([]);
    });

    it("misses on an aborted get and stores nothing on an aborted put, without a warning", async () => {
      const { cache, warnings } = await fixture.open();
      const aborted = AbortSignal.abort();
      await cache.put(keyOf("h"), await makeRendition(12), aborted);
      expect(await cache.get(keyOf("h"))).toBeUndefined();
      await cache.put(keyOf("h"), await makeRendition(12));
      expect(await cache.get(keyOf("h"), aborted)).toBeUndefined();
      expect(await cache.get(keyOf("h"))).toBeDefined();
      expect(warnings).toEqual([]);
    });

    it("misses and stores nothing once closed", async () => {
      const { cache } = await fixture.open();
      await cache.put(keyOf("i"), await makeRendition(13));
      await cache.close();
      expect(await cache.get(keyOf("i"))).toBeUndefined();
      await cache.put(keyOf("j"), await makeRendition(14));
      expect(await (await fixture.open()).cache.get(keyOf("j"))).toBeUndefined();
    });

    it("refuses a malformed key as the caller's bug (E_INTERNAL)", async () => {
      const { cache } = await fixture.open();
      await expect(cache.get("ABC")).rejects.toMatchObject({ code: "E_INTERNAL" });
      await expect(cache.put(keyOf("k").toUpperCase(), await makeRendition(15))).rejects.toMatchObject({
        code: "E_INTERNAL",
      });
    });
  });
}
