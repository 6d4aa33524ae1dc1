/**
 * imaginary's local file source (`-mount`, source_fs.go; docs/reference/imaginary-api.md §1.2, §2.3): with a
 * mounted directory, `GET /<op>?file=<path under it>` reads the image from disk instead of a body.
 * The messages are imaginary's; the path check is stricter. imaginary joins, cleans and compares
 * prefixes without a trailing separator, and follows symlinks: `../fixtures2/x.jpg` escapes into a
 * sibling directory and a symlink leads anywhere. Here the file that is opened must be, by its
 * real path, inside the real path of the root.
 */
import { closeSync, constants, fstatSync, openSync, realpathSync, statSync, type BigIntStats } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { AciimgError } from "../errors.js";
import { readFullySync } from "../read-fully.js";
import { fileChangedMessage, fileChangedStatus, fileIdentityOf } from "../protocol/file-identity.js";
import { messages, type Refusal } from "../protocol/replies.js";

/** A mounted directory: the root as configured and as the filesystem resolves it. */
export interface Mount {
  /** The directory, absolute (joined with `file`, as imaginary does). */
  readonly root: string;
  /** Its real path with a trailing separator: what every file served must start with. */
  readonly realPrefix: string;
}

export type MountedFile = { ok: true; bytes: Buffer } | Refusal;

/** Where a mounted file's bytes are read into (buffers.ts), and given back once answered. */
export type Allocate = (size: number) => Buffer;

/**
 * Checks the directory to mount, as imaginary's checkMountDirectory does (it must exist and be a
 * directory, and not be `/`), except that `/` is refused by its real path, so `/.` or a symlink
 * to `/` are refused too. `allowRoot` accepts `/`: only for the local provider's own backend
 * (server.ts `allowRootMount`).
 */
export async function openMount(dir: string, allowRoot = false): Promise<Mount> {
  let real: string;
  try {
    real = await realpath(dir);
  } catch (error) {
    throw new AciimgError(
      "E_USAGE",
      `backend: --mount ${JSON.stringify(dir)}: cannot mount it ` +
        `(${(error as NodeJS.ErrnoException).code ?? String(error)}); expected an existing directory of images`,
      { cause: error },
    );
  }
  if (!(await stat(real)).isDirectory())
    throw new AciimgError(
      "E_USAGE",
      `backend: --mount ${JSON.stringify(dir)}: not a directory; expected the directory that holds the images`,
    );
  if (real === sep && !allowRoot)
    throw new AciimgError(
      "E_USAGE",
      `backend: --mount ${JSON.stringify(dir)}: cannot mount the root directory ` +
        `for security reasons (as imaginary refuses -mount /); mount the directory that holds the images`,
    );
  return { root: resolve(dir), realPrefix: real === sep ? sep : real + sep };
}

/**
 * Go's url.QueryUnescape: `+` is a space and `%XX` a byte; a `%` not followed by two hex digits
 * is an error (undefined here).
 */
export function goQueryUnescape(text: string): string | undefined {
  if (!text.includes("%") && !text.includes("+")) return text;
  const source = Buffer.from(text, "utf8");
  const out = Buffer.allocUnsafe(source.length);
  let n = 0;
  for (let i = 0; i < source.length; i++) {
    const byte = source[i] as number;
    if (byte === 0x2b) out[n++] = 0x20;
    else if (byte !== 0x25) out[n++] = byte;
    else {
      const hex = source.toString("latin1", i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
      out[n++] = parseInt(hex, 16);
      i += 2;
    }
  }
  return out.toString("utf8", 0, n);
}

/**
 * The `file` a GET names, unescaped a second time as imaginary's master does (the query was
 * already decoded once), so a request made for imaginary names the same file here; undefined when
 * there is none (or the second unescape fails, which makes imaginary's fs source not match).
 */
export function fileParam(query: URLSearchParams): string | undefined {
  const file = goQueryUnescape(query.get("file") ?? "");
  return file ? file : undefined;
}

/**
 * Reads `file` under the mount, at most `maxBytes` (413 over it, decided from the file's size
 * before reading). Outside the root by its path or by a symlink, missing, unreadable or not a
 * regular file: 400 `Invalid file path`, as imaginary answers for a path outside the mount or a
 * failed read.
 *
 * `identity` is the `<dev>:<ino>` the client checked the file to be (file-identity.ts): then a
 * final symbolic link is not followed (the client sends a path it resolved, so a link there was
 * put in after its check) and any other inode is refused with 412, never read.
 *
 * Synchronous, on purpose. Through the thread pool these six calls were six round trips, each
 * queued behind the libvips work that holds the pool's threads, and they cost the backend about
 * 3% more CPU per image than the whole read. A mounted file is on
 * a local disk, usually just written or checked by the client:
 * an open and a stat take microseconds and a 1 MB read from the page cache about 0.1 ms, time
 * during which libvips goes on in its own threads.
 */
export function readMountedFile(
  mount: Mount,
  file: string,
  maxBytes: number,
  allocate: Allocate = Buffer.allocUnsafe,
  identity?: string,
): MountedFile {
  const invalid: Refusal = { ok: false, status: 400, message: messages.invalidFilePath };
  const changed: Refusal = { ok: false, status: fileChangedStatus, message: fileChangedMessage };
  // path.join cleans `..` lexically as Go's path.Clean(path.Join(…)) does, an absolute `file` included.
  const joined = join(mount.root, file);
  let fd: number | undefined;
  try {
    // Opened first, then checked: the file read is the one whose real path was checked (same
    // device and inode), whatever is renamed or relinked in between. O_NONBLOCK: a FIFO must not hang the open.
    const noFollow = identity === undefined ? 0 : constants.O_NOFOLLOW;
    try {
      fd = openSync(joined, constants.O_RDONLY | constants.O_NONBLOCK | noFollow);
    } catch (error) {
      return identity !== undefined && (error as NodeJS.ErrnoException).code === "ELOOP" ? changed : invalid;
    }
    const opened = fstatSync(fd, { bigint: true });
    if (identity !== undefined && fileIdentityOf(opened) !== identity) return changed;
    const real = realpathSync.native(joined);
    const isInside = real.startsWith(mount.realPrefix);
    if (!isInside || !opened.isFile() || !sameFile(opened, statSync(real, { bigint: true }))) return invalid;
    const size = Number(opened.size);
    if (size > maxBytes) return fileTooLarge(maxBytes);
    // As many bytes as the stat said (a file still growing is read up to that size).
    return { ok: true, bytes: readFullySync(fd, allocate(size), 0) };
  } catch {
    return invalid;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** 413 for a file over the size limit uploads have (imaginary has no limit on either). */
export function fileTooLarge(maxBytes: number): Refusal {
  return { ok: false, status: 413, message: `File too large: the limit is ${maxBytes} bytes` };
}

function sameFile(a: BigIntStats, b: BigIntStats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}
