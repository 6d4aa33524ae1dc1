/**
 * The folder rendition cache (`--cache <dir>`): the contract suite, then what is the folder's own:
 * its layout and modes, the LRU eviction to its size bound (this run's uses and the mtimes a
 * restored folder brings), and what someone else may have put in it (another user's folder or
 * entry, links, a FIFO, a huge file, a subfolder that is a link). Tests that hand files to
 * `nobody` need root and say so when skipped.
 */
import { execFileSync } from "node:child_process";
import {
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  truncate,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, type TestContext } from "vitest";
import { type CacheOptions, openRenditionCache } from "../../src/cli/batch/cache/index.js";
import {
  type CacheFixture,
  describeRenditionCache,
  entryBytes,
  keyOf,
  makeRendition,
  type OpenedCache,
} from "../helpers/cache-contract.js";
import { isRoot, NOBODY } from "../helpers/users.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function workspace(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "aciimg-cache-dir-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function openAt(dir: string, options: Partial<CacheOptions> = {}): Promise<OpenedCache> {
  const warnings: string[] = [];
  const cache = await openRenditionCache(dir, { warn: (text) => warnings.push(text), ...options }, "/");
  return { cache, warnings };
}

/** `<dir>/<key[0..2]>/<key>`. */
const pathOf = (dir: string, key: string) => join(dir, key.slice(0, 2), key);

async function plantAt(dir: string, key: string, data: Buffer): Promise<void> {
  await mkdir(join(dir, key.slice(0, 2)), { recursive: true, mode: 0o700 });
  await rm(pathOf(dir, key), { force: true });
  await writeFile(pathOf(dir, key), data, { mode: 0o600 });
}

/** The entry files in the cache folder, by key. */
async function entriesIn(dir: string): Promise<string[]> {
  const subfolders = (await readdir(dir)).filter((name) => /^[0-9a-f]{2}$/.test(name));
  const names = await Promise.all(subfolders.map((sub) => readdir(join(dir, sub))));
  return names.flat().filter((name) => /^[0-9a-f]{64}$/.test(name));
}

function needsRoot(context: TestContext): void {
  if (!isRoot) context.skip("needs root: hands files and folders to nobody (uid 65534)");
}

describeRenditionCache("folder", async (): Promise<CacheFixture> => {
  const dir = join(await workspace(), "cache");
  return {
    open: (options) => openAt(dir, options),
    plant: (key, data) => plantAt(dir, key, data),
    cleanup: async () => undefined,
  };
});

describe("folder cache: layout", () => {
  it("creates a missing folder (and its parents) 0700, resolved against cwd, and its entries 0600", async () => {
    const root = await workspace();
    const warnings: string[] = [];
    const cache = await openRenditionCache("a/b/cache", { warn: (text) => warnings.push(text) }, root);
    expect(cache.describe).toBe(`dir ${join(root, "a/b/cache")}`);
    await cache.put(keyOf("x"), await makeRendition(1));
    for (const folder of ["a", "a/b", "a/b/cache", `a/b/cache/${keyOf("x").slice(0, 2)}`])
      expect((await stat(join(root, folder))).mode & 0o777, folder).toBe(0o700);
    expect((await stat(pathOf(join(root, "a/b/cache"), keyOf("x")))).mode & 0o777).toBe(0o600);
    expect(await readdir(join(root, "a/b/cache", keyOf("x").slice(0, 2)))).toEqual([keyOf("x")]);
    expect(warnings).toEqual([]);
  });

  it("takes a folder of ours that its group may write, as a CI restore with umask 002 leaves it", async () => {
    const dir = await workspace();
    await chmod(dir, 0o775);
    const { cache, warnings } = await openAt(dir);
    await cache.put(keyOf("y"), await makeRendition(2));
    await chmod(pathOf(dir, keyOf("y")), 0o664);
    expect(await cache.get(keyOf("y"))).toBeDefined();
    expect(warnings).toEqual([]);
  });

  it("turns off, with a warning and no crash, when the path is a file", async () => {
    const dir = await workspace();
    await writeFile(join(dir, "file"), "x");
    const { cache, warnings } = await openAt(join(dir, "file"));
    await cache.put(keyOf("z"), await makeRendition(3));
    expect(await cache.get(keyOf("z"))).toBeUndefined();
    expect(warnings).toEqual([expect.stringMatching(/file: it is not a folder, so the cache is off for this run/)]);
    expect(await readFile(join(dir, "file"), "utf8")).toBe("x");
  });

  it("passes on at most maxWarnings warnings, then one line that the rest are not shown", async () => {
    const dir = await workspace();
    const { cache, warnings } = await openAt(dir, { maxWarnings: 2 });
    for (let i = 0; i < 5; i++) {
      await plantAt(dir, keyOf(`w${i}`), Buffer.from("junk"));
      expect(await cache.get(keyOf(`w${i}`))).toBeUndefined();
    }
    expect(warnings).toHaveLength(3);
    expect(warnings[2]).toBe("cache: further cache warnings are not shown");
  });
});

describe("folder cache: size bound", () => {
  /** Four renditions of one size, and a bound that holds three of their entries. */
  async function fourOfASize() {
    const renditions = await Promise.all([1, 2, 3, 4].map((seed) => makeRendition(seed, 32, 32)));
    const sizes = renditions.map((rendition, i) => entryBytes(keyOf(`k${i}`), rendition).length);
    return { renditions, maxBytes: 3 * Math.max(...sizes) + 10 };
  }

  it("evicts the least recently used entry after a put, where a hit counts as a use", async () => {
    const dir = await workspace();
    const { renditions, maxBytes } = await fourOfASize();
    const { cache, warnings } = await openAt(dir, { maxBytes });
    const [k0, k1, k2, k3] = [0, 1, 2, 3].map((i) => keyOf(`k${i}`)) as [string, string, string, string];
    await cache.put(k0, renditions[0]!);
    await cache.put(k1, renditions[1]!);
    await cache.put(k2, renditions[2]!);
    expect(await cache.get(k0)).toBeDefined();
    await cache.put(k3, renditions[3]!);
    await cache.close();
    expect((await entriesIn(dir)).sort()).toEqual([k0, k2, k3].sort());
    expect(warnings).toEqual([]);
  });

  it("keeps the folder within the bound over many puts", async () => {
    const dir = await workspace();
    const renditions = await Promise.all(Array.from({ length: 30 }, (_, i) => makeRendition(i, 20 + i, 20)));
    const maxBytes = 2000;
    const { cache } = await openAt(dir, { maxBytes });
    for (const [i, rendition] of renditions.entries()) await cache.put(keyOf(`m${i}`), rendition);
    await cache.close();
    const keys = await entriesIn(dir);
    const sizes = await Promise.all(keys.map(async (key) => (await stat(pathOf(dir, key))).size));
    expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(maxBytes);
    expect(keys).toContain(keyOf("m29"));
    expect(keys.length).toBeGreaterThan(1);
  });

  it("orders what an earlier run left by mtime; one in the future counts as the oldest", async () => {
    const dir = await workspace();
    const { renditions, maxBytes } = await fourOfASize();
    const [k0, k1, k2, k3] = [0, 1, 2, 3].map((i) => keyOf(`k${i}`)) as [string, string, string, string];
    for (const [i, key] of [k0, k1, k2].entries()) await plantAt(dir, key, entryBytes(key, renditions[i]!));
    const day = 24 * 3600;
    const now = Date.now() / 1000;
    await utimes(pathOf(dir, k0), now - 2 * day, now - 2 * day);
    await utimes(pathOf(dir, k1), now + 365 * day, now + 365 * day);
    await utimes(pathOf(dir, k2), now - day, now - day);
    const { cache, warnings } = await openAt(dir, { maxBytes });
    await cache.put(k3, renditions[3]!);
    await cache.close();
    expect((await entriesIn(dir)).sort()).toEqual([k0, k2, k3].sort());
    expect(warnings).toEqual([]);
  });

  it("copes with a restored folder whose entries all have one mtime, and refreshes the mtime of a hit", async () => {
    const dir = await workspace();
    const { renditions, maxBytes } = await fourOfASize();
    const keys = [0, 1, 2].map((i) => keyOf(`k${i}`));
    for (const [i, key] of keys.entries()) {
      await plantAt(dir, key, entryBytes(key, renditions[i]!));
      await utimes(pathOf(dir, key), 1_000_000, 1_000_000);
    }
    const { cache, warnings } = await openAt(dir, { maxBytes });
    expect(await cache.get(keys[1]!)).toBeDefined();
    expect((await stat(pathOf(dir, keys[1]!))).mtimeMs).toBeGreaterThan(1_000_000_000);
    await cache.put(keyOf("k3"), renditions[3]!);
    await cache.close();
    const left = await entriesIn(dir);
    expect(left).toHaveLength(3);
    expect(left).toContain(keys[1]);
    expect(left).toContain(keyOf("k3"));
    expect(warnings).toEqual([]);
  });

  it("removes a temporary file a writer that died left an hour ago, and keeps a fresh one", async () => {
    const dir = await workspace();
    const key = keyOf("t");
    const sub = join(dir, key.slice(0, 2));
    await mkdir(sub, { mode: 0o700 });
    const [stale, fresh] = [`.${key}.123.abcdef.tmp`, `.${key}.124.abcdef.tmp`];
    await writeFile(join(sub, stale), "half");
    await writeFile(join(sub, fresh), "half");
    await utimes(join(sub, stale), Date.now() / 1000 - 7200, Date.now() / 1000 - 7200);
    const { cache } = await openAt(dir);
    await cache.put(key, await makeRendition(1));
    await cache.close();
    expect((await readdir(sub)).sort()).toEqual([fresh, key].sort());
  });
});

describe("folder cache: what someone else put there", () => {
  it("does not follow a link under a key's name, to an entry or to /dev/zero", async () => {
    const dir = await workspace();
    const elsewhere = await workspace();
    const rendition = await makeRendition(1);
    await writeFile(join(elsewhere, "entry"), entryBytes(keyOf("l"), rendition));
    const { cache, warnings } = await openAt(dir);
    await mkdir(join(dir, keyOf("l").slice(0, 2)), { mode: 0o700 });
    await symlink(join(elsewhere, "entry"), pathOf(dir, keyOf("l")));
    await mkdir(join(dir, keyOf("zero").slice(0, 2)), { mode: 0o700 });
    await symlink("/dev/zero", pathOf(dir, keyOf("zero")));
    expect(await cache.get(keyOf("l"))).toBeUndefined();
    expect(await cache.get(keyOf("zero"))).toBeUndefined();
    expect(warnings).toEqual([
      expect.stringContaining("it is a symbolic link (not followed)"),
      expect.stringContaining("it is a symbolic link (not followed)"),
    ]);
    // A put replaces the link itself, never what it points to.
    await cache.put(keyOf("l"), await makeRendition(2));
    expect((await lstat(pathOf(dir, keyOf("l")))).isFile()).toBe(true);
    expect((await readFile(join(elsewhere, "entry"))).equals(entryBytes(keyOf("l"), rendition))).toBe(true);
  });

  it("does not wait on a FIFO under a key's name", async () => {
    const dir = await workspace();
    await mkdir(join(dir, keyOf("fifo").slice(0, 2)), { mode: 0o700 });
    execFileSync("mkfifo", [pathOf(dir, keyOf("fifo"))]);
    const { cache, warnings } = await openAt(dir);
    expect(await cache.get(keyOf("fifo"))).toBeUndefined();
    expect(warnings).toEqual([expect.stringContaining("it is not a regular file")]);
  });

  it("reads nothing of a huge file under a key's name", async () => {
    const dir = await workspace();
    await plantAt(dir, keyOf("huge"), Buffer.alloc(0));
    await truncate(pathOf(dir, keyOf("huge")), 64 * 1024 ** 3); // sparse: no disk used
    const { cache, warnings } = await openAt(dir);
    expect(await cache.get(keyOf("huge"))).toBeUndefined();
    expect(warnings).toEqual([expect.stringContaining(`it is ${64 * 1024 ** 3} bytes, more than an entry may be`)]);
  });

  it("stores nothing through a subfolder that is a link", async () => {
    const dir = await workspace();
    const elsewhere = await workspace();
    await symlink(elsewhere, join(dir, keyOf("s").slice(0, 2)));
    const { cache, warnings } = await openAt(dir);
    await cache.put(keyOf("s"), await makeRendition(1));
    expect(await readdir(elsewhere)).toEqual([]);
    expect(warnings).toEqual([expect.stringContaining("it is a symbolic link (not followed)")]);
  });

  it("turns off for a folder another user owns, and stores nothing in it", async (context) => {
    needsRoot(context);
    const dir = await workspace();
    await chown(dir, NOBODY, NOBODY);
    const { cache, warnings } = await openAt(dir);
    await cache.put(keyOf("n"), await makeRendition(1));
    expect(await cache.get(keyOf("n"))).toBeUndefined();
    expect(await readdir(dir)).toEqual([]);
    expect(warnings).toEqual([
      expect.stringMatching(/it belongs to uid 65534, not to you \(uid 0\) or root, so the cache is off for this run/),
    ]);
  });

  it("turns off for a link to the folder that another user owns", async (context) => {
    needsRoot(context);
    const dir = await workspace();
    await mkdir(join(dir, "real"), { mode: 0o700 });
    await symlink(join(dir, "real"), join(dir, "link"));
    execFileSync("chown", ["-h", `${NOBODY}:${NOBODY}`, join(dir, "link")]);
    const { warnings } = await openAt(join(dir, "link"));
    expect(warnings).toEqual([expect.stringContaining("its symbolic link belongs to uid 65534")]);
  });

  it("misses an entry another user owns, even a whole and valid one", async (context) => {
    needsRoot(context);
    const dir = await workspace();
    const rendition = await makeRendition(1);
    await plantAt(dir, keyOf("o"), entryBytes(keyOf("o"), rendition));
    await chown(pathOf(dir, keyOf("o")), NOBODY, NOBODY);
    const { cache, warnings } = await openAt(dir);
    expect(await cache.get(keyOf("o"))).toBeUndefined();
    expect(warnings).toEqual([expect.stringContaining("it belongs to uid 65534")]);
  });

  it("stores nothing in a subfolder another user owns", async (context) => {
    needsRoot(context);
    const dir = await workspace();
    await mkdir(join(dir, keyOf("p").slice(0, 2)), { mode: 0o777 });
    await chown(join(dir, keyOf("p").slice(0, 2)), NOBODY, NOBODY);
    const { cache, warnings } = await openAt(dir);
    await cache.put(keyOf("p"), await makeRendition(1));
    expect(await readdir(join(dir, keyOf("p").slice(0, 2)))).toEqual([]);
    expect(warnings).toEqual([expect.stringContaining("it belongs to uid 65534")]);
  });
});
