/**
 * Where outputs go and how they are written: names derived predictably from the input
 * (`photo.jpg` → `out/photo.webp` with `--type webp`), written to a temporary file in the target
 * directory and renamed, so a failure never leaves a partial file behind (DESIGN.md §7).
 */
import { randomBytes } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { replaceAtomically } from "../atomic-write.js";
import { AciimgError, isAciimgError } from "../errors.js";
import { extensionsOf } from "../imaginary/output-types.js";
import type { CliOutputType } from "./flags.js";

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

/** The suffix of temporary files, so a test (or a person) can check none are left. */
export const temporarySuffix = ".aciimg-tmp";

/**
 * Streams `body` into `target` atomically and returns the bytes written. A failing writer is
 * E_OUTPUT; a failing body keeps its own error (the backend's answer broke off). `direct` writes
 * in place, for a device or pipe such as /dev/null, which a rename would replace.
 */
export async function writeAtomically(target: string, body: Readable, direct = false): Promise<number> {
  // Whichever side failed first decides the code: pipeline() destroys the other with the same error.
  let firstFailure: "writer" | "body" | undefined;
  body.once("error", () => {
    firstFailure ??= "body";
  });
  const fill = async (handle: FileHandle): Promise<number> => {
    // The stream closes the handle when it ends or fails (a FileHandle waits for its streams to
    // let go before it closes); the opener's close after that is a no-op.
    const writer = handle.createWriteStream();
    writer.once("error", () => {
      firstFailure ??= "writer";
    });
    await pipeline(body, writer);
    return writer.bytesWritten;
  };
  try {
    if (direct) return await writeInPlace(target, fill);
    // The temporary name is new (wx: a planted file or link there fails the write, it is never followed).
    const temporary = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}${temporarySuffix}`);
    return await replaceAtomically(target, fill, { temporary, mode: 0o644 });
  } catch (error) {
    body.destroy();
    if (isAciimgError(error)) throw error;
    if (firstFailure === "body") {
      throw new AciimgError("E_BACKEND_UNREACHABLE", `the backend's answer broke off while writing ${target}: ${(error as Error).message}`, { cause: error });
    }
    throw new AciimgError("E_OUTPUT", `cannot write ${target}: ${(error as Error).message}`, { cause: error });
  }
}

/** A device or pipe (/dev/null, /dev/stdout) is written where it is: a rename would replace it. */
async function writeInPlace<T>(target: string, fill: (handle: FileHandle) => Promise<T>): Promise<T> {
  const handle = await open(target, "w", 0o644);
  try {
    return await fill(handle);
  } finally {
    await handle.close();
  }
}
