/**
 * A cheap check that an input file is complete before it is sent. libvips (and so imaginary,
 * and our backend) decodes a truncated JPEG "successfully", grey where the data stopped, with
 * only a warning; a batch tool must not turn a half-copied photo into a plausible thumbnail.
 */
const JPEG_SOI = Buffer.from([0xff, 0xd8, 0xff]);
const JPEG_SOS = Buffer.from([0xff, 0xda]);
const JPEG_EOI = Buffer.from([0xff, 0xd9]);
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const PNG_IEND = Buffer.from("IEND", "latin1");

/** How much of the end is looked at first: a complete file ends with its marker (or a short trailer). */
const tailBytes = 4 * 1024;

/** The piece a whole-file scan reads at a time: the check's memory, whatever the file's size. */
export const scanPieceBytes = 1024 * 1024;

/**
 * Why a file is truncated, or undefined when it looks complete (or is not a JPEG or PNG: other
 * formats are left to the backend). `first` is the file's beginning (the whole file when it is
 * `size` bytes long); `readAt` reads more when the check needs it, synchronously: a 4 KiB tail,
 * and only when the tail does not settle it, the file again in pieces of `scanPieceBytes`. A JPEG
 * is complete when an end-of-image marker follows its first scan: inside entropy-coded data 0xFF
 * is always followed by 0x00 or a restart marker, so an EOI there is the real end, and trailers
 * (motion photos) come after it.
 */
export function truncationOf(
  first: Buffer,
  size: number,
  readAt: (length: number, position: number) => Buffer,
): string | undefined {
  const isJpeg = first.subarray(0, 3).equals(JPEG_SOI);
  const isPng = first.subarray(0, 8).equals(PNG_SIGNATURE);
  if (!isJpeg && !isPng) return undefined;
  const read =
    first.length >= size
      ? (length: number, position: number): Buffer => first.subarray(position, position + length)
      : readAt;
  const tail = read(Math.min(size, tailBytes), size - Math.min(size, tailBytes));
  if (isPng)
    return tail.includes(PNG_IEND) || occurInOrder([PNG_IEND], size, read)
      ? undefined
      : "the PNG ends before its IEND chunk";
  const end = tail.lastIndexOf(JPEG_EOI);
  if (end >= 0 && end >= tail.length - 64) return undefined;
  return occurInOrder([JPEG_SOS, JPEG_EOI], size, read) ? undefined : "the JPEG ends before its end-of-image marker";
}

/**
 * Whether `patterns` occur in the file one after another, read from the start in pieces of
 * `scanPieceBytes` (a pattern split between two pieces is found too), so a file of any size costs
 * one piece of memory.
 */
function occurInOrder(
  patterns: readonly Buffer[],
  size: number,
  readAt: (length: number, position: number) => Buffer,
): boolean {
  let index = 0;
  let carry = Buffer.alloc(0);
  for (let position = 0; position < size && index < patterns.length; ) {
    const piece = readAt(Math.min(scanPieceBytes, size - position), position);
    if (piece.length === 0) break;
    position += piece.length;
    const window = carry.length > 0 ? Buffer.concat([carry, piece]) : piece;
    let from = 0;
    for (let found = 0; index < patterns.length; index++) {
      const pattern = patterns[index] as Buffer;
      found = window.indexOf(pattern, from);
      if (found < 0) break;
      from = found + pattern.length;
    }
    // What could be the start of the next pattern, split by the piece's end (never bytes already matched).
    const keep = Math.min(window.length - from, ((patterns[index] as Buffer | undefined)?.length ?? 1) - 1);
    carry = Buffer.from(window.subarray(window.length - keep));
  }
  return index === patterns.length;
}
