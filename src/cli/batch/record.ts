/**
 * The incremental record (docs/cli.md "Incremental runs"): `.aciimg-record.json` in the output
 * folder, so it travels with a CI cache of that folder. It says, for each input, what its content
 * was (hash, and the file version it was read at) and, for each output made of it, the key it was
 * made for (input content, request, backend) and what was written (hash, size, version).
 *
 * Its text is JSON lines: `{"aciimg":"incremental-record","version":2}`, then one line per input,
 * `[path, entry]`, sorted by path. Read and written a line at a time: a record of 10,000 inputs is
 * never one string of megabytes, nor parsed twice.
 *
 * Read as another party may have written it: a record that is not a regular file of this user's,
 * too large, or not exactly this shape is set aside with a warning, and the run redoes everything.
 * A wrong record can cost a redo, never a wrong skip: every skip is checked against the files.
 */
import { closeSync, constants, fstatSync, openSync } from "node:fs";
import { join, posix } from "node:path";
import { readFullySync } from "../../read-fully.js";
import { inPieces, writeFileAtomically } from "./outputs.js";

/** The record's name in the output folder. */
export const recordName = ".aciimg-record.json";

/** The largest record read: ~300 bytes an output, so millions of outputs. */
const maxRecordBytes = 256 * 1024 * 1024;

/** The longest line read: one input with the most outputs a run makes (16 sizes × 3 formats) is ~20 KiB. */
const maxLineBytes = 1024 * 1024;

/** The record's first line. */
const header = JSON.stringify({ aciimg: "incremental-record", version: 2 });

export interface RecordedOutput {
  /** Relative to the output folder, with / between folders. */
  path: string;
  /** What it was made for (input-facts.ts renditionKey). */
  key: string;
  format: string;
  width: number;
  height: number;
  bytes: number;
  /** sha256 of its bytes, hex. */
  hash: string;
  /** Its file version when written or last checked (input-file.ts fileVersion); absent: check the bytes. */
  version?: string;
}

export interface RecordedInput {
  /** sha256 of its bytes, hex. */
  hash: string;
  bytes: number;
  /** The file version the hash was read at; absent when it may have changed within that instant. */
  version?: string;
  /** Its size as displayed (EXIF orientation applied), when it was read. */
  width?: number;
  height?: number;
  format?: string;
  outputs: RecordedOutput[];
}

/** Inputs by their path relative to their search root (inputs.ts relativeOutput), / between folders. */
export type IncrementalRecord = Map<string, RecordedInput>;

const hex64 = /^[0-9a-f]{64}$/;

/**
 * Reads the record of the output folder `root`; an empty one when there is none, and when there is
 * one it cannot trust (`warn` says why; the run then redoes every output and writes a new one).
 */
export function loadRecord(root: string, warn: (text: string) => void): IncrementalRecord {
  const path = join(root, recordName);
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOENT") warn(`${path} cannot be read (${code}); every output is made again`);
    return new Map();
  }
  try {
    const stats = fstatSync(fd);
    const uid = process.getuid?.();
    const why = !stats.isFile()
      ? "it is not a regular file"
      : uid !== undefined && stats.uid !== uid
        ? `it belongs to another user (uid ${stats.uid})`
        : stats.size > maxRecordBytes
          ? `it is larger than ${maxRecordBytes} bytes`
          : undefined;
    if (why) throw new Error(why);
    return parseRecord(linesOf(fd, stats.size));
  } catch (error) {
    warn(`${path} is not a record aciimg can trust (${(error as Error).message}); every output is made again`);
    return new Map();
  } finally {
    closeSync(fd);
  }
}

/** Writes the record atomically (a temporary file and a rename), readable by its owner only. */
export function saveRecord(root: string, record: IncrementalRecord): void {
  writeFileAtomically(join(root, recordName), inPieces(recordLines(record)), 0o600);
}

function* recordLines(record: IncrementalRecord): Generator<string> {
  yield `${header}\n`;
  for (const path of [...record.keys()].sort()) yield `${JSON.stringify([path, record.get(path)])}\n`;
}

/**
 * The lines of the first `size` bytes of the open file `fd`, each without its line end; throws for
 * one too long, or a last one unended.
 */
function* linesOf(fd: number, size: number): Generator<string> {
  const piece = Buffer.allocUnsafe(Math.min(maxLineBytes, size));
  let carried = Buffer.alloc(0);
  for (let position = 0; position < size; ) {
    const read = readFullySync(fd, piece.subarray(0, Math.min(piece.length, size - position)), position);
    position += read.length;
    const chunk = carried.length === 0 ? read : Buffer.concat([carried, read]);
    let start = 0;
    // A line end (10) is never part of a longer UTF-8 sequence: bytes can be split there.
    for (let end = chunk.indexOf(10); end >= 0; end = chunk.indexOf(10, start)) {
      yield chunk.toString("utf8", start, end);
      start = end + 1;
    }
    carried = Buffer.from(chunk.subarray(start));
    if (carried.length > maxLineBytes) throw new Error(`a line is longer than ${maxLineBytes} bytes`);
    if (read.length === 0) break;
  }
  if (carried.length > 0) throw new Error("its last line is cut short");
}

/**
 * The record in `lines`, every field checked; throws saying what is wrong. The parsed objects are
 * kept as they are once checked (a record of 10,000 inputs is not copied): a field the format does
 * not have is refused, so nothing but the format's own fields is kept or written back.
 */
function parseRecord(lines: Iterable<string>): IncrementalRecord {
  const record: IncrementalRecord = new Map();
  let isFirst = true;
  for (const line of lines) {
    if (isFirst) {
      if (line !== header) throw new Error("not an aciimg record of version 2");
      isFirst = false;
      continue;
    }
    const pair = JSON.parse(line) as unknown;
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string")
      throw new Error("a line is not [path, entry]");
    const path = pair[0];
    checkRelative(path);
    if (record.has(path)) throw new Error(`${path} is there twice`);
    const entry = objectOf(pair[1], path);
    onlyFields(entry, inputFields, path);
    hexOf(entry.hash, path);
    countOf(entry.bytes, path);
    if (entry.version !== undefined) textOf(entry.version, path);
    if (entry.width !== undefined) countOf(entry.width, path);
    if (entry.height !== undefined) countOf(entry.height, path);
    if (entry.format !== undefined) textOf(entry.format, path);
    if (!Array.isArray(entry.outputs)) throw new Error(`${path}: no outputs list`);
    for (const output of entry.outputs as unknown[]) checkOutput(output, path);
    record.set(path, entry as unknown as RecordedInput);
  }
  if (isFirst) throw new Error("it is empty");
  return record;
}

const inputFields = new Set(["hash", "bytes", "version", "width", "height", "format", "outputs"]);
const outputFields = new Set(["path", "key", "format", "width", "height", "bytes", "hash", "version"]);

function checkOutput(value: unknown, input: string): void {
  const output = objectOf(value, `an output of ${input}`);
  onlyFields(output, outputFields, input);
  const path = textOf(output.path, input);
  checkRelative(path);
  hexOf(output.key, path);
  textOf(output.format, path);
  countOf(output.width, path);
  countOf(output.height, path);
  countOf(output.bytes, path);
  hexOf(output.hash, path);
  if (output.version !== undefined) textOf(output.version, path);
}

function onlyFields(value: Record<string, unknown>, fields: ReadonlySet<string>, what: string): void {
  for (const field in value)
    if (!fields.has(field)) throw new Error(`${what}: ${JSON.stringify(field)} is not a field of the record`);
}

/** A path that stays inside its folder: relative, no . or .. segment, no empty one, no NUL. */
function checkRelative(path: string): void {
  const segments = path.split("/");
  const isInside =
    path !== "" &&
    !path.includes("\0") &&
    !posix.isAbsolute(path) &&
    segments.every((s) => s !== "" && s !== "." && s !== "..");
  if (!isInside) throw new Error(`${JSON.stringify(path)} is not a path inside the folder`);
}

function objectOf(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`${what} is not an object`);
  return value as Record<string, unknown>;
}

function textOf(value: unknown, what: string): string {
  if (typeof value !== "string" || value.length > 4096) throw new Error(`${what}: a field is not a short string`);
  return value;
}

function hexOf(value: unknown, what: string): string {
  if (typeof value !== "string" || !hex64.test(value)) throw new Error(`${what}: a hash is not 64 hex digits`);
  return value;
}

function countOf(value: unknown, what: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw new Error(`${what}: a count is not a whole number`);
  return value as number;
}
