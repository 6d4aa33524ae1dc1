/**
 * Where outputs go and how they are written: names derived predictably from the input
 * (`photo.jpg` → `out/photo.webp` with `--type webp`), written to a temporary file in the target
 * directory and renamed, so a failure never leaves a partial file behind (DESIGN.md §7).
 */
import { randomBytes, type Hash } from "node:crypto";
import { constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import type { Readable } from "node:stream";
import { replaceAtomically, replaceAtomicallySync } from "../../atomic-write.js";
import { requestTimeoutAdvice } from "../../config.js";
import { AciimgError, isAciimgError } from "../../errors.js";
import { diskError } from "./disk-full.js";
import { fileIdentityOf } from "../../protocol/file-identity.js";
import { formatDuration } from "../../units.js";
import { extensionsOf } from "../../protocol/output-types.js";
import type { CliOutputType } from "../flags.js";

/** The file extensions of each output type, the usual one first. */
export const extensionOf: Record<CliOutputType, readonly string[]> = extensionsOf;

/** The output's relative name: the input's, with the extension of `type` when one is asked for. */
export function outputName(relativeInput: string, type: CliOutputType | undefined): string {
  if (type === undefined) return relativeInput;
  const ext = extname(relativeInput);
  const known = extensionOf[type];
  if (known.includes(ext.slice(1).toLowerCase())) return relativeInput;
  return `${ext ? relativeInput.slice(0, -ext.length) : relativeInput}.${known[0] as string}`;
}

/**
 * An existing device or pipe (`/dev/null`, a FIFO) that an output is written to in place, since a
 * rename would replace it: the one planning saw.
 */
export interface InPlace {
  /** `<dev>:<ino>` of the device or pipe (file-identity.ts). */
  identity: string;
  /** The name given is itself a link to it (`/dev/stdout`), which the write must follow. */
  isNamedLink: boolean;
}

/** The suffix of temporary files, so a test (or a person) can check none are left. */
export const temporarySuffix = ".aciimg-tmp";

/** The most bytes a file name holds (NAME_MAX on Linux file systems). */
export const nameMaxBytes = 255;

/**
 * A new temporary name beside `target`: a dot, the target's name, a random part and the suffix.
 * The name is cut (at a character) so the whole fits in a file name: a 244-byte output name gave
 * a 269-byte temporary, ENAMETOOLONG, and a good image reported as an output failure.
 */
function temporaryBeside(target: string): string {
  const tail = `.${randomBytes(6).toString("hex")}${temporarySuffix}`;
  const room = nameMaxBytes - 1 - Buffer.byteLength(tail);
  let name = basename(target);
  if (Buffer.byteLength(name) > room) {
    let kept = "";
    for (const character of name) {
      if (Buffer.byteLength(kept + character) > room) break;
      kept += character;
    }
    name = kept;
  }
  return join(dirname(target), `.${name}${tail}`);
}

/**
 * `texts` joined, as Buffers of about 64 KiB: a record or manifest of 10,000 entries written as it
 * is made, never held as one string (and a copy of it).
 */
export function* inPieces(texts: Iterable<string>): Generator<Buffer> {
  let held = "";
  for (const text of texts) {
    held += text;
    if (held.length >= 64 * 1024) {
      yield Buffer.from(held);
      held = "";
    }
  }
  if (held !== "") yield Buffer.from(held);
}

/** Writes `data` to `target` atomically and durably (a record, a manifest); `mode` before the umask. */
export function writeFileAtomically(target: string, data: Buffer | Iterable<Buffer>, mode: number): void {
  replaceAtomicallySync(target, data, { temporary: temporaryBeside(target), mode, isDurable: true });
}

/**
 * Most bytes held before they are written. A thumbnail (a few KB, one or two chunks off the
 * socket) costs one write; a large output is still written as it arrives, in pieces of this size.
 */
const writeBatchBytes = 1024 * 1024;

/**
 * Streams `body` into `target` atomically and returns the bytes written, fed to `digest` as they
 * are written. A failing writer is E_OUTPUT; a failing body keeps its own error (the backend's
 * answer broke off). `inPlace` writes in place, to the device or pipe planning saw (writeInPlace).
 *
 * The answer is gathered first, up to `writeBatchBytes`. One that ends within it (a thumbnail) is
 * written with synchronous calls, in one go (replaceAtomicallySync); a larger one is written as it
 * arrives, in pieces of that size, with plain handle writes. An fs.WriteStream and pipeline() per
 * file, and then the thread pool's round trips, cost more of the CLI's CPU than the writing itself
 * (in profiles of the CLI): CPU that the local backend shares.
 */
export async function writeAtomically(
  target: string,
  body: Readable,
  inPlace?: InPlace,
  requestTimeoutMs?: number,
  digest?: Hash,
): Promise<number> {
  // The answer is read, then written, never both at once: a failure
  // while reading it is the body's, any other the writer's.
  let bodyFailed = false;
  const chunks = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let held: Buffer[] = [];
  let heldBytes = 0;
  let ended = false;
  const gather = async (): Promise<void> => {
    try {
      while (heldBytes < writeBatchBytes) {
        const next = await chunks.next();
        if (next.done === true) {
          ended = true;
          return;
        }
        held.push(next.value);
        heldBytes += next.value.length;
      }
    } catch (error) {
      bodyFailed = true;
      throw error;
    }
  };
  const take = (): Buffer => {
    const data = held.length === 1 ? (held[0] as Buffer) : Buffer.concat(held, heldBytes);
    digest?.update(data);
    held = [];
    heldBytes = 0;
    return data;
  };
  const fill = async (handle: FileHandle): Promise<number> => {
    let written = 0;
    for (;;) {
      const data = take();
      for (let offset = 0; offset < data.length; ) offset += (await handle.write(data, offset)).bytesWritten;
      written += data.length;
      if (ended) return written;
      await gather();
    }
  };
  try {
    await gather();
    if (inPlace) {
      const written = await writeInPlace(target, inPlace, fill);
      if (written !== undefined) return written;
    }
    // The temporary name is new (wx: a planted file or link there fails the write, it is never followed).
    const temporary = temporaryBeside(target);
    if (ended) return replaceAtomicallySync(target, take(), { temporary, mode: 0o644 });
    return await replaceAtomically(target, fill, { temporary, mode: 0o644 });
  } catch (error) {
    body.destroy();
    if (isAciimgError(error)) throw error;
    if (bodyFailed && (error as { code?: unknown }).code === "UND_ERR_BODY_TIMEOUT") {
      // The backend went silent mid-answer: a timeout, not a vanished backend, so no route sends
      // the image again (engine/call-retry.ts isVanished).
      const limit = requestTimeoutMs === undefined ? {} : { timeoutMs: requestTimeoutMs };
      const within = requestTimeoutMs === undefined ? "" : ` within ${formatDuration(requestTimeoutMs)}`;
      throw new AciimgError(
        "E_REQUEST_TIMEOUT",
        `the backend stopped sending its answer while writing ${target} (nothing more came${within}); ` +
          `it was not sent again. ${requestTimeoutAdvice}`,
        { cause: error, detail: { code: "UND_ERR_BODY_TIMEOUT", ...limit } },
      );
    }
    if (bodyFailed) {
      throw new AciimgError(
        "E_BACKEND_UNREACHABLE",
        `the backend's answer broke off while writing ${target}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    throw (
      diskError(`cannot write ${target}`, error) ??
      new AciimgError("E_OUTPUT", `cannot write ${target}: ${(error as Error).message}`, { cause: error })
    );
  }
}

/**
 * Writes to the device or pipe at `target` (/dev/null, /dev/stdout, a FIFO) where it is, only if
 * it is still the inode planning saw; undefined when it is not, for a temporary file and a rename
 * instead. Opened without O_CREAT or O_TRUNC, and without following a link unless the name given
 * is one: whoever can write its folder could otherwise swap it for a link to a file of yours
 * between planning and writing, and have that file truncated and overwritten.
 */
async function writeInPlace<T>(
  target: string,
  inPlace: InPlace,
  fill: (handle: FileHandle) => Promise<T>,
): Promise<T | undefined> {
  const noFollow = inPlace.isNamedLink ? 0 : constants.O_NOFOLLOW;
  let handle: FileHandle;
  try {
    handle = await open(target, constants.O_WRONLY | noFollow);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!inPlace.isNamedLink && (code === "ELOOP" || code === "ENOENT")) return undefined;
    throw error;
  }
  try {
    const stats = await handle.stat({ bigint: true });
    if (fileIdentityOf(stats) === inPlace.identity) return await fill(handle);
  } finally {
    await handle.close();
  }
  // A link named on the command line leads elsewhere now: renaming over it would replace the link.
  if (inPlace.isNamedLink) {
    const what = `${target} no longer leads to the device or pipe it led to when the batch was planned`;
    throw new AciimgError("E_OUTPUT", `${what}; nothing was written to it`);
  }
  return undefined;
}
