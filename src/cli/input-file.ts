/**
 * An input file of `aciimg process`, opened once: its size, a check that it is complete, and a
 * replayable body streamed in pieces of at most `pieceBytes`. The first piece is read with the
 * check and kept for the upload, so a typical photo costs one open and one read, however often
 * the call is retried; memory per file in flight stays bounded by one piece.
 */
import { closeSync, constants, fstatSync, openSync, statSync, type BigIntStats } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { Readable } from "node:stream";
import { AciimgError } from "../errors.js";
import { readFullySync } from "../read-fully.js";
import { needsSvgScreen, screenSvg } from "../imaginary/svg-screen.js";
import { truncationOf } from "./integrity.js";

/**
 * Largest piece read and written at once. Large pieces matter: with fs streams' 64 KiB chunks the
 * CLI spent ~40% more CPU per 1 MB photo, CPU the backend shares on the local provider.
 */
export const pieceBytes = 1024 * 1024;

export interface InputFile {
  size: number;
  /** A new stream of the file's bytes on every call (a retried call sends it again). */
  body: () => Readable;
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
 * Opens `path` (named `name` in errors); fails with E_BAD_INPUT when it is empty or truncated, or
 * with `screen` an SVG the screen refuses (problemOf).
 */
export async function openInput(path: string, name: string, screen = false): Promise<InputFile> {
  // O_NONBLOCK: a FIFO put in the file's place must not hang the open (it is refused below).
  const file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK).catch((error: unknown) => {
    throw new AciimgError("E_BAD_INPUT", `cannot read ${name}: ${(error as Error).message}`, { cause: error });
  });
  try {
    const stats = await file.stat({ bigint: true });
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
      return { size, body: () => Readable.from(pieces(path, name, size, first, version), { objectMode: false }), release };
    } catch (error) {
      release();
      throw error;
    }
  } finally {
    await file.close();
  }
}

/**
 * The same checks as openInput without reading the whole first piece: run over every input before
 * a backend is started, so a batch of only empty or truncated files wakes nothing (on ACI, a
 * billed container). The reason the file cannot be sent, or undefined.
 */
export function checkInput(path: string, name: string, screen = false): AciimgError | undefined {
  const checked = checkedFile(path, name, screen);
  return checked instanceof AciimgError ? checked : undefined;
}

/** A file that passed the checks: its size, and its version when it was checked (fileVersion). */
export interface CheckedFile {
  size: number;
  version: string;
}

/**
 * checkInput's checks, with the file's size when it passes: for a backend that reads the file
 * itself (the local provider's file source), so the check is not lost with the upload. Done with
 * synchronous calls: an open, a stat and two small reads of a file the kernel has just seen cost
 * microseconds each, and the same calls through the thread pool cost the CLI more CPU than the
 * check itself (and queue behind other I/O). O_NONBLOCK: a FIFO named as an input must not hang the open.
 */
export function checkedFile(path: string, name: string, screen = false): CheckedFile | AciimgError {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const opened = fd;
    const stats = fstatSync(opened, { bigint: true });
    if (!stats.isFile()) return notRegular(name);
    const size = Number(stats.size);
    const readAt = (length: number, position: number): Buffer => readAtSync(opened, length, position);
    return problemOf(name, readAt(Math.min(size, 16), 0), size, readAt, screen) ?? { size, version: versionOf(stats) };
  } catch (error) {
    return new AciimgError("E_BAD_INPUT", `cannot read ${name}: ${(error as Error).message}`, { cause: error });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The file at `path` as it is now: device, inode, size, and modification and change times in
 * nanoseconds. The same version twice means nothing wrote to it in between (a write moves its
 * change time). Undefined when it cannot be looked at.
 */
export function fileVersion(path: string): string | undefined {
  try {
    return versionOf(statSync(path, { bigint: true }));
  } catch {
    return undefined;
  }
}

function versionOf(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}

/**
 * Why the image named `name` must not be sent: empty or truncated (integrity.ts), or with `screen`
 * an SVG with filters or what could hide them (svg-screen.ts), read whole; undefined when fine.
 */
export function problemOf(
  name: string, first: Buffer, size: number, readAt: (length: number, position: number) => Buffer, screen = false,
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

function notRegular(name: string): AciimgError {
  return new AciimgError("E_BAD_INPUT", `cannot read ${name}: not a regular file (a device, pipe or socket; use - to read stdin)`);
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
async function* pieces(path: string, name: string, size: number, first: Buffer, version: string): AsyncGenerator<Buffer> {
  yield first;
  if (first.length >= size) return;
  const file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
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
  if (versionOf(stats) !== version) throw changedWhileSent(name, stats.isFile() && Number(stats.size) < size ? "shrank" : "changed");
}

function changedWhileSent(name: string, how: "shrank" | "changed"): AciimgError {
  return new AciimgError("E_BAD_INPUT", `${name} ${how} while it was being sent`);
}
