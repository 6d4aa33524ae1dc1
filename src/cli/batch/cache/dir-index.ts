/**
 * The folder cache's size accounting: which entries it holds, how large, and in which order they
 * were last used, so that after a put it can remove the least recently used until it is within its
 * bound. The folder is scanned once, when the first put of a run needs the total (a run of hits
 * only never scans), and then kept up to date from this run's gets and puts: 100k entries cost one
 * lstat each once, not on every put. A Map keeps insertion order, so it is the recency list: a use
 * moves an entry to the end, eviction takes from the front.
 *
 * Recency between runs is the entries' mtime (a hit refreshes it). A CI tool that restores the
 * folder may give them any mtime: equal ones are ordered by key, and one in the future counts as
 * the oldest (else it would outlive every entry used since, as no refresh can make it newer).
 */
import { lstat, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { isCacheKey } from "./entry.js";

export interface EntryIndex {
  /** An entry of `bytes` was read: it becomes the most recently used. */
  touched(key: string, bytes: number): void;
  /** An entry of `bytes` was written: counted as the most recently used, then entries are evicted to the bound. */
  stored(key: string, bytes: number): void;
  /** Resolves once the scan (if one began) and every eviction have ended. */
  settle(): Promise<void>;
}

/** The entry file of `key` in the cache folder `dir`: `<dir>/<key[0..2]>/<key>`. */
export function entryPath(dir: string, key: string): string {
  return join(dir, key.slice(0, 2), key);
}

/** A put's temporary file in the entry's subfolder: `.<key>.<pid>.<random>.tmp`. */
export const temporaryName = /^\.[0-9a-f]{64}\.\d+\.[0-9a-f]+\.tmp$/;

/** A temporary file older than this was left by a writer that died: the scan removes it. */
const staleTemporaryMs = 60 * 60_000;

/** Entries lstat'ed at once during the scan, and removed at once after an eviction. */
const scanParallel = 64;
const removeParallel = 16;

export function createEntryIndex(dir: string, maxBytes: number, warn: (text: string) => void): EntryIndex {
  const order = new Map<string, number>();
  let total = 0;
  let scan: Promise<void> | undefined;
  let isScanned = false;
  /** Puts made while the scan runs, applied after it. */
  const early: Array<[string, number]> = [];
  /** Evicted keys whose files are still to be removed, a few at a time. */
  const doomed: string[] = [];
  let removing: Promise<void> | undefined;

  const add = (key: string, bytes: number) => {
    total -= order.get(key) ?? 0;
    order.delete(key);
    order.set(key, bytes);
    total += bytes;
  };

  const remove = async () => {
    while (doomed.length > 0) {
      // One stored again since it was evicted is this run's again: not removed.
      const batch = doomed.splice(0, removeParallel).filter((key) => !order.has(key));
      await Promise.all(batch.map((key) => unlink(entryPath(dir, key)).catch(() => undefined)));
    }
    removing = undefined;
  };

  const evict = () => {
    for (const [key, bytes] of order) {
      if (total <= maxBytes) break;
      order.delete(key);
      total -= bytes;
      doomed.push(key);
    }
    if (doomed.length > 0) removing ??= remove();
  };

  const startScan = () => {
    scan ??= scanEntries(dir)
      .catch((error: unknown) => {
        warn(`cache dir ${dir}: cannot list its entries (${(error as Error).message}); only this run's are counted`);
        return [];
      })
      .then((found) => {
        for (const { key, bytes } of found) if (!order.has(key)) add(key, bytes);
        // This run's puts are more recent than anything found.
        for (const [key, bytes] of early.splice(0)) add(key, bytes);
        isScanned = true;
        evict();
      });
  };

  return {
    touched(key, bytes) {
      if (isScanned) add(key, bytes);
    },
    stored(key, bytes) {
      if (!isScanned) {
        early.push([key, bytes]);
        startScan();
        return;
      }
      add(key, bytes);
      evict();
    },
    async settle() {
      await scan;
      await removing;
    },
  };
}

interface Found {
  key: string;
  bytes: number;
  /** 0 for an mtime in the future. */
  mtimeMs: number;
}

/** The entries in `dir`, least recently used first; stale temporary files are removed on the way. */
async function scanEntries(dir: string): Promise<Found[]> {
  const now = Date.now();
  const found: Found[] = [];
  const subfolders = (await readdir(dir)).filter((name) => /^[0-9a-f]{2}$/.test(name));
  for (const prefix of subfolders) {
    const subfolder = join(dir, prefix);
    const info = await lstat(subfolder).catch(() => undefined);
    if (!info?.isDirectory()) continue;
    const names = await readdir(subfolder).catch(() => [] as string[]);
    for (let start = 0; start < names.length; start += scanParallel) {
      const batch = names.slice(start, start + scanParallel);
      await Promise.all(batch.map((name) => look(join(subfolder, name), name, prefix, now, found)));
    }
  }
  return found.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.key < b.key ? -1 : 1));
}

/** Adds the file at `path` to `found` when it is an entry; removes it when it is a stale temporary file. */
async function look(path: string, name: string, prefix: string, now: number, found: Found[]): Promise<void> {
  const isEntry = isCacheKey(name) && name.startsWith(prefix);
  if (!isEntry && !temporaryName.test(name)) return;
  const info = await lstat(path).catch(() => undefined);
  if (!info?.isFile()) return;
  if (isEntry) found.push({ key: name, bytes: info.size, mtimeMs: info.mtimeMs > now ? 0 : info.mtimeMs });
  else if (now - info.mtimeMs > staleTemporaryMs) await unlink(path).catch(() => undefined);
}
