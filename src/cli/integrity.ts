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

/**
 * Why a file is truncated, or undefined when it looks complete (or is not a JPEG
 * or PNG: other formats are left to the backend). `first` is the file's beginning (the whole file
 * when it is `size` bytes long); `readAt` reads more when the check needs it (synchronously: a tail of 4 KiB from a file just opened). A JPEG is complete
 * when an end-of-image marker follows its first scan: inside entropy-coded data 0xFF is always
 * followed by 0x00 or a restart marker, so an EOI there is the real end, and trailers (motion
 * photos) come after it.
 */
export function truncationOf(first: Buffer, size: number, readAt: (length: number, position: number) => Buffer): string | undefined {
  const isJpeg = first.subarray(0, 3).equals(JPEG_SOI);
  const isPng = first.subarray(0, 8).equals(PNG_SIGNATURE);
  if (!isJpeg && !isPng) return undefined;
  const whole = (): Buffer => (first.length >= size ? first : readAt(size, 0));
  const tail = first.length >= size ? first.subarray(-tailBytes) : readAt(Math.min(size, tailBytes), size - Math.min(size, tailBytes));
  if (isPng) return tail.includes(PNG_IEND) || whole().includes(PNG_IEND) ? undefined : "the PNG ends before its IEND chunk";
  const end = tail.lastIndexOf(JPEG_EOI);
  if (end >= 0 && end >= tail.length - 64) return undefined;
  const bytes = whole();
  const scan = bytes.indexOf(JPEG_SOS);
  return scan >= 0 && bytes.indexOf(JPEG_EOI, scan) >= 0 ? undefined : "the JPEG ends before its end-of-image marker";
}
