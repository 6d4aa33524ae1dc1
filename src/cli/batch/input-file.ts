/**
 * An input file of `aciimg process`, opened once: its size, a check that it is complete, and a
 * replayable body streamed in pieces of at most `pieceBytes`. The first piece is read with the
 * check and kept for the upload, so a typical photo costs one open and one read, however often
 * the call is retried; memory per file in flight stays bounded by one piece.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  realpathSync,
  statSync,
  type BigIntStats,
} from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { Readable } from "node:stream";
import { AciimgError } from "../../errors.js";
import { fileIdentityOf } from "../../protocol/file-identity.js";
import { readFullySync } from "../../read-fully.js";
import { needsSvgScreen, screenSvg } from "../../protocol/svg-screen.js";
import { truncationOf } from "./integrity.js";

/**
 * Largest piece read and written at once. Large pieces matter: with fs streams' 64 KiB chunks the
 * CLI spent ~40% more CPU per 1 MB photo, CPU the backend shares on the local provider.
 */
export const pieceBytes = 1024 * 1024;

export interface InputFile {
  size: number;
  /** `<dev>:<ino>` of the file opened (file-identity.ts). */
  identity: string;
  /** A new stream of the file's bytes on every call (a retried call sends it again). */
  body: () => Readable;
  /** The file's first bytes (up to `pieceBytes`), read with the check; until `release`, which lends them on. */
  head: () => Buffer;
  /** The call is over (answered, failed or abandoned): its first piece may be reused. Idempotent. */
  release(): void;
}

/**
 * First pieces of finished files, kept for the next ones. A fresh 1 MiB buffer per photo made V8
 * run a full GC every ~16 photos (~15% of the CLI's main-thread time in a batch). At most
 * `maxSpare` are kept, so a burst of concurrency does not pin memory.
 */
const spare: Buffer[] = [];
const maxSpare = 16;

/**
 * Flags of every open of an input: O_NONBLOCK, so a FIFO put in the file's place does not hang
 * the open (it is refused as not regular); O_NOFOLLOW, since inputs are opened by the real path
 * resolved when the batch was planned, so a link there was put in since, by whoever can write
 * the folder (a link to a private file, whose rendering would land in an output
 * they can read).
 */
export const inputFlags = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW;

/**
 * Opens `path` (named `name` in errors), the real path of an input; fails with E_BAD_INPUT when
 * it is empty or truncated, or when it is not the file `identity` (checkedFile) names: replaced
 * since the batch was planned; or with `screen`, an SVG the screen refuses (problemOf).
 */
export async function openInput(path: string, name: string, identity?: string, screen = false): Promise<InputFile> {
  const file = await open(path, inputFlags).catch((error: unknown) => {
    throw unopened(error, name);
  });
  try {
    const stats = await file.stat({ bigint: true });
    if (identity !== undefined && fileIdentityOf(stats) !== identity) throw replaced(name);
    if (!stats.isFile()) throw notRegular(name);
    const size = Number(stats.size);
    if (size === 0) throw emptyInput(name);
    const piece = spare.pop() ?? Buffer.allocUnsafeSlow(pieceBytes);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      if (spare.length < maxSpare) spare.push(piece);
    };
    try {
      const first = await readInto(file, piece.subarray(0, Math.min(size, pieceBytes)), 0);
      const problem = problemOf(name, first, size, (length, position) => readAtSync(file.fd, length, position), screen);
      if (problem) throw problem;
      const version = versionOf(stats);
      const body = (): Readable => Readable.from(pieces(path, name, size, first, version), { objectMode: false });
      return { size, identity: fileIdentityOf(stats), body, head: () => first, release };
    } catch (error) {
      release();
      throw error;
    }
  } finally {
    await file.close();
  }
}

/** A file that passed the checks: its size, identity, and version when it was checked (fileVersion). */
export interface CheckedFile {
  size: number;
  /** `<dev>:<ino>` (file-identity.ts): what every later open of the input must find. */
  identity: string;
  version: string;
}

/**
 * The same checks as openInput without reading the whole first piece, of `path`, an input's real
 * path. Run over every input before a backend is started, so a batch of only empty or truncated
 * files wakes nothing (on ACI, a billed container); that first check records the file's identity,
 * and without `identity` the file opened must still be reached by `path` with no link on the way
 * (a folder on it swapped for a link included). Run again, with that `identity`, before a backend
 * that reads the file itself is sent its path. Synchronous calls: an open, a stat and two small
 * reads of a file the kernel has just seen cost microseconds each, and the same calls through the
 * thread pool cost the CLI more CPU than the check itself (and queue behind other I/O).
 */
export function checkedFile(path: string, name: string, identity?: string, screen = false): CheckedFile | AciimgError {
  let fd: number | undefined;
  try {
    try {
      fd = openSync(path, inputFlags);
    } catch (error) {
      return unopened(error, name);
    }
    const opened = fd;
    const stats = fstatSync(opened, { bigint: true });
    // Opened, then resolved: a folder relinked and put back in between leaves another inode at `path`.
    const isPlanned = identity === undefined ? isReachedWithoutLinks(path, stats) : fileIdentityOf(stats) === identity;
    if (!isPlanned) return replaced(name);
    if (!stats.isFile()) return notRegular(name);
    const size = Number(stats.size);
    const readAt = (length: number, position: number): Buffer => readAtSync(opened, length, position);
    const problem = problemOf(name, readAt(Math.min(size, 16), 0), size, readAt, screen);
    return problem ?? { size, identity: fileIdentityOf(stats), version: versionOf(stats) };
  } catch (error) {
    return new AciimgError("E_BAD_INPUT", `cannot read ${name}: ${(error as Error).message}`, { cause: error });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Whether `path` resolves to itself, with no link, and names the file `opened`. */
function isReachedWithoutLinks(path: string, opened: BigIntStats): boolean {
  try {
    if (realpathSync.native(path) !== path) return false;
    return fileIdentityOf(statSync(path, { bigint: true })) === fileIdentityOf(opened);
  } catch {
    return false;
  }
}

/**
 * The entry at `path` as it is now (a link is not followed): device, inode, size, and
 * modification and change times in nanoseconds. The same version twice means nothing wrote to it
 * in between (a write moves its change time). Undefined when it cannot be looked at.
 */
export function fileVersion(path: string): string | undefined {
  try {
    return versionOf(lstatSync(path, { bigint: true }));
  } catch {
    return undefined;
  }
}

function versionOf(stats: BigIntStats): string {
  // Joined, not a template: one flat string, where a template left a tree of nine pieces per version.
  return [stats.dev, stats.ino, stats.size, stats.mtimeNs, stats.ctimeNs].join(":");
}

/**
 * Why the image named `name` must not be sent: empty or truncated (integrity.ts), or with `screen`
 * an SVG with filters or what could hide them (svg-screen.ts), read whole; undefined when fine.
 */
export function problemOf(
  name: string,
  first: Buffer,
  size: number,
  readAt: (length: number, position: number) => Buffer,
  screen = false,
): AciimgError | undefined {
  if (size === 0) return emptyInput(name);
  const truncated = truncationOf(first, size, readAt);
  if (truncated) {
    return new AciimgError("E_BAD_INPUT", `${name} is truncated: ${truncated} (an incomplete copy or download?)`);
  }
  if (!screen) return undefined;
  const whole = (length: number): Buffer => (first.length >= length ? first.subarray(0, length) : readAt(length, 0));
  if (!needsSvgScreen(whole(Math.min(size, 4096)))) return undefined;
  const finding = screenSvg(whole(size));
  if (!finding) return undefined;
  return new AciimgError(
    "E_BAD_INPUT",
    `${name} is an SVG with ${finding.construct}, refused: ${finding.why}, ` +
      "and imaginary (the aci backend) cannot stop a render. Send it anyway with --allow-svg-filters " +
      "(or ACIIMG_ALLOW_SVG_FILTERS=1), or use --provider local, whose backend bounds render time.",
  );
}

/** A failed open; ELOOP is O_NOFOLLOW meeting a link where the planned real path had none. */
function unopened(error: unknown, name: string): AciimgError {
  if ((error as NodeJS.ErrnoException).code === "ELOOP") return replaced(name);
  return new AciimgError("E_BAD_INPUT", `cannot read ${name}: ${(error as Error).message}`, { cause: error });
}

function replaced(name: string): AciimgError {
  return new AciimgError(
    "E_BAD_INPUT",
    `${name} changed during the batch: it was replaced (by a symbolic link or another file) after it was found, ` +
      "so it was not sent; " +
      "if another user can write its folder, move your images to a folder only you can write",
  );
}

function notRegular(name: string): AciimgError {
  return new AciimgError(
    "E_BAD_INPUT",
    `cannot read ${name}: not a regular file (a device, pipe or socket; use - to read stdin)`,
  );
}

function emptyInput(name: string): AciimgError {
  return new AciimgError("E_BAD_INPUT", `${name} is empty (0 bytes), not an image`);
}

/** `length` bytes at `position` of the open file `fd`, fewer only at the end of the file. */
function readAtSync(fd: number, length: number, position: number): Buffer {
  return readFullySync(fd, Buffer.allocUnsafe(length), position);
}

/** `length` bytes at `position`, fewer only at the end of the file. */
function readAt(file: FileHandle, length: number, position: number): Promise<Buffer> {
  return readInto(file, Buffer.allocUnsafe(length), position);
}

/** Fills `buffer` from `position`; returns the part filled (shorter only at the end of the file). */
async function readInto(file: FileHandle, buffer: Buffer, position: number): Promise<Buffer> {
  const length = buffer.length;
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}

/**
 * The first piece, then the rest of the file (exactly `size` bytes, the Content-Length sent). The
 * rest is read from the file opened again, which must still be the `version` that was checked,
 * when it is opened and when its last piece has been read: otherwise the upload fails, rather
 * than send the checked first piece with another file's rest (one renamed over it) or bytes
 * written meanwhile.
 */
async function* pieces(
  path: string,
  name: string,
  size: number,
  first: Buffer,
  version: string,
): AsyncGenerator<Buffer> {
  if (first.length > 0) yield first;
  if (first.length >= size) return;
  const file = await open(path, inputFlags);
  try {
    await unchangedSince(version, file, name, size);
    for (let position = first.length; position < size; ) {
      const piece = await readAt(file, Math.min(pieceBytes, size - position), position);
      if (piece.length === 0) throw changedWhileSent(name, "shrank");
      position += piece.length;
      if (position >= size) await unchangedSince(version, file, name, size);
      yield piece;
    }
  } finally {
    await file.close();
  }
}

/** Fails unless the open `file` is still `version` (fileVersion). */
async function unchangedSince(version: string, file: FileHandle, name: string, size: number): Promise<void> {
  const stats = await file.stat({ bigint: true });
  if (versionOf(stats) !== version)
    throw changedWhileSent(name, stats.isFile() && Number(stats.size) < size ? "shrank" : "changed");
}

/**
 * The bytes of a file checked by checkedFile, read when the stream is: for an upload that replaces
 * a request by path (a retry on a backend without the file source). It fails as openInput's body
 * does if the file is no longer that version.
 */
export function checkedBody(path: string, name: string, checked: CheckedFile): Readable {
  return Readable.from(pieces(path, name, checked.size, Buffer.alloc(0), checked.version), { objectMode: false });
}

function changedWhileSent(name: string, how: "shrank" | "changed"): AciimgError {
  return new AciimgError("E_BAD_INPUT", `${name} ${how} while it was being sent`);
}
