/**
 * A cheap check that an input file is complete before it is sent. libvips (and so imaginary,
 * and our backend) decodes a truncated JPEG "successfully", grey where the data stopped, with
 * only a warning; a batch tool must not turn a half-copied photo into a plausible thumbnail.
 */
import { open } from "node:fs/promises";

const JPEG_SOI = Buffer.from([0xff, 0xd8, 0xff]);
const JPEG_SOS = Buffer.from([0xff, 0xda]);
const JPEG_EOI = Buffer.from([0xff, 0xd9]);
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const PNG_IEND = Buffer.from("IEND", "latin1");

/** How much of the end is read first: a complete file ends with its marker (or a short trailer). */
const tailBytes = 4 * 1024;

/**
 * Resolves with why `path` is truncated, or undefined when it looks complete (or is not a JPEG
 * or PNG: other formats are left to the backend). A JPEG is complete when an end-of-image marker
 * follows its first scan: inside entropy-coded data 0xFF is always followed by 0x00 or a restart
 * marker, so an EOI there is the real end, and trailers (motion photos) come after it.
 */
export async function truncationOf(path: string, size: number): Promise<string | undefined> {
  const file = await open(path, "r");
  try {
    const head = Buffer.allocUnsafe(Math.min(size, 8));
    await file.read(head, 0, head.length, 0);
    const isJpeg = head.subarray(0, 3).equals(JPEG_SOI);
    const isPng = head.equals(PNG_SIGNATURE);
    if (!isJpeg && !isPng) return undefined;
    const tail = Buffer.allocUnsafe(Math.min(size, tailBytes));
    await file.read(tail, 0, tail.length, size - tail.length);
    if (isPng) return tail.includes(PNG_IEND) || (await fileIncludes(file, size, PNG_IEND, 0)) ? undefined : "the PNG ends before its IEND chunk";
    if (tail.lastIndexOf(JPEG_EOI) >= tail.length - 64) return undefined;
    const whole = Buffer.allocUnsafe(size);
    await file.read(whole, 0, size, 0);
    const scan = whole.indexOf(JPEG_SOS);
    return scan >= 0 && whole.indexOf(JPEG_EOI, scan) >= 0 ? undefined : "the JPEG ends before its end-of-image marker";
  } finally {
    await file.close();
  }
}

async function fileIncludes(file: import("node:fs/promises").FileHandle, size: number, needle: Buffer, from: number): Promise<boolean> {
  const whole = Buffer.allocUnsafe(size - from);
  await file.read(whole, 0, whole.length, from);
  return whole.includes(needle);
}
