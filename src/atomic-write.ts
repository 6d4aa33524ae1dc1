/**
 * Replacing a file atomically: neutral, used by the state file and the CLI's outputs. The content
 * goes to a new temporary file in the target's directory (same file system, so the rename is
 * atomic) and is renamed over the target, so a reader sees the old file or the new one, never half.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";

export interface AtomicWriteOptions {
  /**
   * The temporary file, in the target's directory. Created new (`wx`): a planted file or link there fails the write.
   */
  temporary: string;
  /** Mode the temporary file is created with (the umask applies). */
  mode: number;
  /**
   * fsync the file before the rename and the directory after it, so the new content survives a crash. Default false.
   */
  isDurable?: boolean;
}

/**
 * Fills a new temporary file through `fill` and renames it over `target`; on any failure the
 * temporary file is removed and the error is passed on as it came. Resolves with what `fill` did.
 */
export async function replaceAtomically<T>(
  target: string,
  fill: (handle: FileHandle) => Promise<T>,
  options: AtomicWriteOptions,
): Promise<T> {
  const { temporary } = options;
  let result: T;
  try {
    const handle = await open(temporary, "wx", options.mode);
    try {
      result = await fill(handle);
      if (options.isDurable) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, target);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  // Make the rename itself durable; some file systems refuse fsync on a directory, which is harmless.
  if (options.isDurable) await syncDirectory(dirname(target));
  return result;
}

/**
 * replaceAtomically for content already in memory, with synchronous calls: a thumbnail's create,
 * write, close and rename are four thread-pool round trips that cost the caller more CPU than the
 * calls themselves (about twice the calls' own time per file). For small content on a local disk;
 * the same guarantees (new temporary file, removed on failure). `data` may come in pieces, made as
 * they are written (a manifest of thousands of entries is never one string). Returns the bytes written.
 */
export function replaceAtomicallySync(
  target: string,
  data: Buffer | Iterable<Buffer>,
  options: AtomicWriteOptions,
): number {
  const { temporary } = options;
  let written = 0;
  try {
    const fd = openSync(temporary, "wx", options.mode);
    try {
      for (const piece of Buffer.isBuffer(data) ? [data] : data) {
        for (let offset = 0; offset < piece.length; ) offset += writeSync(fd, piece, offset);
        written += piece.length;
      }
      if (options.isDurable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, target);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // never created, or already renamed
    }
    throw error;
  }
  return written;
}

async function syncDirectory(path: string): Promise<void> {
  const directory = await open(path, "r").catch(() => undefined);
  if (directory) {
    await directory.sync().catch(() => undefined);
    await directory.close();
  }
}
