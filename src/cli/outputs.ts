/**
 * Where outputs go and how they are written: names derived predictably from the input
 * (`photo.jpg` → `out/photo.webp` with `--type webp`), written to a temporary file in the target
 * directory and renamed, so a failure never leaves a partial file behind (DESIGN.md §7).
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AciimgError, isAciimgError } from "../errors.js";
import type { CliOutputType } from "./flags.js";

/** The file extensions of each output type, the usual one first. */
export const extensionOf: Record<CliOutputType, readonly string[]> = {
  jpeg: ["jpg", "jpeg"],
  png: ["png"],
  webp: ["webp"],
  tiff: ["tiff", "tif"],
};

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
  // The temporary name is new (wx: a planted file or link there fails the write, it is never followed).
  const temporary = direct ? target : join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}${temporarySuffix}`);
  const writer = createWriteStream(temporary, { flags: direct ? "w" : "wx", mode: 0o644 });
  // Whichever side failed first decides the code: pipeline() destroys the other with the same error.
  let firstFailure: "writer" | "body" | undefined;
  writer.once("error", () => {
    firstFailure ??= "writer";
  });
  body.once("error", () => {
    firstFailure ??= "body";
  });
  try {
    await pipeline(body, writer);
    if (!direct) await rename(temporary, target);
    return writer.bytesWritten;
  } catch (error) {
    body.destroy();
    if (!direct) await rm(temporary, { force: true });
    if (isAciimgError(error)) throw error;
    if (firstFailure === "body") {
      throw new AciimgError("E_BACKEND_UNREACHABLE", `the backend's answer broke off while writing ${target}: ${(error as Error).message}`, { cause: error });
    }
    throw new AciimgError("E_OUTPUT", `cannot write ${target}: ${(error as Error).message}`, { cause: error });
  }
}
