/**
 * The incremental record (docs/cli.md "Incremental runs"): `.aciimg-record.json` in the output
 * folder, so it travels with a CI cache of that folder. It says, for each input, what its content
 * was (hash, and the file version it was read at) and, for each output made of it, the key it was
 * made for (input content, request, backend) and what was written (hash, size, version).
 *
 * Read as another party may have written it: a record that is not a regular file of this user's,
 * too large, or not exactly this shape is set aside with a warning, and the run redoes everything.
 * A wrong record can cost a redo, never a wrong skip: every skip is checked against the files.
 */
import { closeSync, constants, fstatSync, openSync } from "node:fs";
import { join, posix } from "node:path";
import { readFullySync } from "../../read-fully.js";
import { writeFileAtomically } from "./outputs.js";

/** The record's name in the output folder. */
export const recordName = ".aciimg-record.json";

/** The largest record read: ~300 bytes an output, so millions of outputs. */
const maxRecordBytes = 256 * 1024 * 1024;

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
    const text = readFullySync(fd, Buffer.alloc(stats.size), 0).toString("utf8");
    return parseRecord(JSON.parse(text) as unknown);
  } catch (error) {
    warn(`${path} is not a record aciimg can trust (${(error as Error).message}); every output is made again`);
    return new Map();
  } finally {
    closeSync(fd);
  }
}

/** Writes the record atomically (a temporary file and a rename), readable by its owner only. */
export function saveRecord(root: string, record: IncrementalRecord): void {
  const inputs = Object.fromEntries([...record].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const text = `${JSON.stringify({ aciimg: "incremental-record", version: 1, inputs })}\n`;
  writeFileAtomically(join(root, recordName), Buffer.from(text), 0o600);
}

/** The record in `data`, every field checked; throws saying what is wrong. */
function parseRecord(data: unknown): IncrementalRecord {
  const top = objectOf(data, "the record");
  if (top.aciimg !== "incremental-record" || top.version !== 1) throw new Error("not an aciimg record of version 1");
  const record: IncrementalRecord = new Map();
  for (const [path, value] of Object.entries(objectOf(top.inputs, "inputs"))) {
    checkRelative(path);
    const entry = objectOf(value, path);
    const outputs = entry.outputs;
    if (!Array.isArray(outputs)) throw new Error(`${path}: no outputs list`);
    record.set(path, {
      hash: hexOf(entry.hash, path),
      bytes: countOf(entry.bytes, path),
      ...optional(entry, path),
      outputs: outputs.map((output: unknown) => outputOf(output, path)),
    });
  }
  return record;
}

function optional(entry: Record<string, unknown>, path: string): Partial<RecordedInput> {
  const facts: Partial<RecordedInput> = {};
  if (entry.version !== undefined) facts.version = textOf(entry.version, path);
  if (entry.width !== undefined) facts.width = countOf(entry.width, path);
  if (entry.height !== undefined) facts.height = countOf(entry.height, path);
  if (entry.format !== undefined) facts.format = textOf(entry.format, path);
  return facts;
}

function outputOf(value: unknown, input: string): RecordedOutput {
  const output = objectOf(value, `an output of ${input}`);
  const path = textOf(output.path, input);
  checkRelative(path);
  return {
    path,
    key: hexOf(output.key, path),
    format: textOf(output.format, path),
    width: countOf(output.width, path),
    height: countOf(output.height, path),
    bytes: countOf(output.bytes, path),
    hash: hexOf(output.hash, path),
    ...(output.version === undefined ? {} : { version: textOf(output.version, path) }),
  };
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
