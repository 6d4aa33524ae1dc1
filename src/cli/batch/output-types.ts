/**
 * The format each output of `aciimg process` is written in, so that its name and its bytes agree
 * (docs/cli.md "aciimg process"): the one asked for (`--type`, or the extension of an `-o` file), else
 * the input's own, read from its bytes rather than its name; and for an input in a format
 * imaginary cannot write (docs/reference/imaginary-api.md §4), where the backend would answer "Unsupported image
 * output type", PNG for graphics and JPEG for photos.
 */
import { closeSync, openSync } from "node:fs";
import { detectFormat, type DetectedFormat } from "../../protocol/formats.js";
import { readFullySync } from "../../read-fully.js";
import type { CliOutputType } from "../flags.js";
import { inputFlags } from "./input-file.js";

/** What an input is written as when no type is asked for (the table in docs/cli.md). */
export const defaultOutputTypes: Record<DetectedFormat, CliOutputType> = {
  jpeg: "jpeg",
  png: "png",
  webp: "webp",
  tiff: "tiff",
  // Graphics: lossless, and PNG keeps their transparency.
  svg: "png",
  gif: "png",
  pdf: "png",
  bmp: "png",
  // Photos from phones and cameras.
  heif: "jpeg",
  avif: "jpeg",
};

/** The type to write `bytes` (the start of an input) as: `asked`, else its default; undefined for no image known. */
export function outputTypeOf(asked: CliOutputType | undefined, bytes: Uint8Array): CliOutputType | undefined {
  if (asked !== undefined) return asked;
  const format = detectFormat(bytes);
  return format === undefined ? undefined : defaultOutputTypes[format];
}

/** The default output type of an input in the format sharp names `format`; undefined for one not in the table. */
export function defaultTypeOf(format: string | undefined): CliOutputType | undefined {
  return format !== undefined && Object.hasOwn(defaultOutputTypes, format)
    ? defaultOutputTypes[format as DetectedFormat]
    : undefined;
}

/** Enough of a file's start to tell its format (formats.ts: 4 KiB). */
const sniffBytes = 4096;

/**
 * outputTypeOf for the file at `path`, an input's real path, opened as every input is (no link
 * followed, no wait on a FIFO). Undefined when it cannot be read: the input's own check says why.
 */
export function outputTypeOfFile(asked: CliOutputType | undefined, path: string): CliOutputType | undefined {
  if (asked !== undefined) return asked;
  let fd: number | undefined;
  try {
    fd = openSync(path, inputFlags);
    return outputTypeOf(undefined, readFullySync(fd, Buffer.allocUnsafe(sniffBytes), 0));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Output types `--quality` changes nothing in: PNG is lossless (its size is set by --op … --param compression). */
export function ignoresQuality(type: CliOutputType | undefined): boolean {
  return type === "png";
}

/** The one line `process` prints when `--quality` is given for PNG outputs. */
export const qualityIgnoredWarning =
  "aciimg: warning: --quality does nothing for PNG output (lossless); it sets the quality of JPEG, WebP, AVIF and TIFF";
