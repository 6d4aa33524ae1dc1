/**
 * The folder cache (`--cache ./cache-dir`): content-addressed entry files `<dir>/<key[0..2]>/<key>`,
 * each a header and the body (entry.ts), written to a temporary file beside it and renamed into
 * place, so a reader sees a whole entry or none, and two runners storing one key both succeed (the
 * last rename wins; both wrote the same rendition). Bounded in size: after puts the least recently
 * used entries are removed (dir-index.ts). Read as someone else may have written the folder (a
 * restored CI cache, a shared disk): an entry is opened without following a link and without
 * waiting on a FIFO, checked on the open file (a regular file, ours or root's, within the bound),
 * read whole within that bound, and verified.
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { dirname, join } from "node:path";
import { replaceAtomically } from "../../../atomic-write.js";
import { createEntryIndex, entryPath } from "./dir-index.js";
import { distrustOf, folderProblem, subfolderProblem } from "./dir-trust.js";
import { checkKey, decodeEntry, encodeHeader, entryMaxBytes, renditionProblem } from "./entry.js";
import type { CachedRendition, CacheSettings, RenditionCache } from "./index.js";
import { cacheOff } from "./off.js";

/** No link followed, no wait for a FIFO's writer (O_NONBLOCK); neither flag exists on Windows. */
const readFlags = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/**
 * Errors after which no put of this run is likely to succeed (a full or read-only disk, a folder we
 * may not write, such as a shared read-only cache of root's): storing stops, with one warning.
 */
const storeStoppers = new Set(["ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM"]);

/** Opens the folder cache at `dir` (absolute); off, with a warning, when the folder cannot be trusted or made. */
export async function openDirCache(dir: string, settings: CacheSettings): Promise<RenditionCache> {
  const describe = `dir ${dir}`;
  const { warn, maxBytes, maxEntryBytes } = settings;
  const problem = await folderProblem(dir);
  if (problem) {
    warn(`cache ${describe}: ${problem}, so the cache is off for this run; use a folder of yours (--cache)`);
    return cacheOff(describe);
  }
  const index = createEntryIndex(dir, maxBytes, warn);
  const me = process.getuid?.();
  let isClosed = false;
  let isStoring = true;
  /** Subfolders made or checked in this run (at most 256). */
  const readySubfolders = new Set<string>();
  const short = (key: string) => `${key.slice(0, 2)}/${key.slice(0, 12)}…`;

  /** The entry of `key` read and verified, or why not; undefined when there is none. */
  async function read(key: string): Promise<CachedRendition | string | undefined> {
    const path = entryPath(dir, key);
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(path, readFlags);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return undefined;
      // ELOOP: a link under the key's name (O_NOFOLLOW); EMLINK is FreeBSD's word for it.
      if (code === "ELOOP" || code === "EMLINK") return "it is a symbolic link (not followed)";
      if (code === "ENOTDIR") return "its subfolder is not a folder";
      return `cannot open it: ${(error as Error).message}`;
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) return "it is not a regular file";
      const distrust = distrustOf(info, "it", me);
      if (distrust) return distrust;
      if (info.size > entryMaxBytes(maxEntryBytes)) return `it is ${info.size} bytes, more than an entry may be`;
      const data = Buffer.allocUnsafe(info.size);
      let filled = 0;
      while (filled < data.length) {
        const { bytesRead } = await handle.read(data, filled, data.length - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      const decoded = decodeEntry(key, data.subarray(0, filled), maxEntryBytes);
      if (!decoded.ok) return decoded.why;
      // The hit makes it the most recently used, for this run and the next (its mtime); an
      // entry of root's may refuse it, which costs only its place in the order.
      await handle.utimes(info.atime, new Date()).catch(() => undefined);
      index.touched(key, filled);
      return decoded.rendition;
    } catch (error) {
      return `cannot read it: ${(error as Error).message}`;
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  return {
    describe,
    async get(key, signal) {
      checkKey(key);
      if (isClosed || signal?.aborted) return undefined;
      const found = await read(key);
      if (typeof found !== "string") return found;
      warn(`cache ${describe}: entry ${short(key)} ignored: ${found}; treated as a miss`);
      return undefined;
    },

    async put(key, rendition, signal) {
      checkKey(key);
      if (isClosed || !isStoring || signal?.aborted) return;
      const problem = renditionProblem(rendition, maxEntryBytes);
      if (problem) {
        warn(`cache ${describe}: rendition ${short(key)} not stored: ${problem}`);
        return;
      }
      const path = entryPath(dir, key);
      const subfolder = dirname(path);
      const header = encodeHeader(key, rendition.meta);
      const temporary = join(subfolder, `.${key}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
      try {
        if (!readySubfolders.has(subfolder)) {
          const problem = await subfolderProblem(subfolder);
          if (problem) {
            warn(`cache ${describe}: rendition ${short(key)} not stored: its subfolder ${subfolder}: ${problem}`);
            return;
          }
          readySubfolders.add(subfolder);
        }
        await replaceAtomically(
          path,
          async (handle) => {
            await handle.writeFile(header);
            await handle.writeFile(rendition.body);
          },
          { temporary, mode: 0o600 },
        );
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? "";
        const stop = storeStoppers.has(code);
        if (stop) isStoring = false;
        const then = stop ? "; nothing more is stored in this run" : "";
        warn(`cache ${describe}: rendition ${short(key)} not stored: ${(error as Error).message}${then}`);
        return;
      }
      index.stored(key, header.length + rendition.body.length);
    },

    async close() {
      isClosed = true;
      await index.settle();
    },
  };
}
