/**
 * Width, height and EXIF orientation read from the first bytes of a JPEG or PNG, without a call
 * into libvips. The 422 resolution check and the size plan need them before the pipeline is built,
 * and a sharp.metadata() round trip per request costs ~1-2 ms of main-thread CPU plus a thread
 * hop. Anything unusual (no SOF before the scan, several Exif blocks, a PNG eXIf chunk, another
 * format) answers undefined, and the caller asks libvips instead.
 */

export interface Header {
  width: number;
  height: number;
  orientation: number;
}

const sofMarkers = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/** The header of a JPEG or PNG, or undefined when libvips should be asked. */
export function readHeader(bytes: Buffer, type: string): Header | undefined {
  if (type === "jpeg") return jpegHeader(bytes);
  if (type === "png") return pngHeader(bytes);
  return undefined;
}

function jpegHeader(b: Buffer): Header | undefined {
  let orientation = 0;
  let exifBlocks = 0;
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1] ?? 0;
    if (marker === 0xff) {
      i += 1;
      continue;
    } // fill byte
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      i += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return undefined; // end or scan before a frame header
    const length = b.readUInt16BE(i + 2);
    if (length < 2 || i + 2 + length > b.length) return undefined;
    if (marker === 0xe1 && b.toString("latin1", i + 4, i + 10) === "Exif\0\0") {
      exifBlocks += 1;
      const o = exifOrientation(b.subarray(i + 10, i + 2 + length));
      if (o === undefined || exifBlocks > 1) return undefined;
      orientation = o;
    } else if (sofMarkers.has(marker)) {
      if (length < 7) return undefined;
      return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7), orientation };
    }
    i += 2 + length;
  }
  return undefined;
}

/** Tag 0x0112 of IFD0 (0 when absent); undefined when the block is malformed. */
function exifOrientation(tiff: Buffer): number | undefined {
  if (tiff.length < 8) return undefined;
  const order = tiff.toString("latin1", 0, 2);
  if (order !== "II" && order !== "MM") return undefined;
  const le = order === "II";
  const u16 = (at: number): number => (le ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
  const u32 = (at: number): number => (le ? tiff.readUInt32LE(at) : tiff.readUInt32BE(at));
  const ifd = u32(4);
  if (ifd + 2 > tiff.length) return undefined;
  const count = u16(ifd);
  if (ifd + 2 + count * 12 > tiff.length) return undefined;
  for (let n = 0; n < count; n += 1) {
    const entry = ifd + 2 + n * 12;
    if (u16(entry) !== 0x0112) continue;
    const value = u16(entry + 8);
    return value >= 1 && value <= 8 ? value : undefined;
  }
  return 0;
}

function pngHeader(b: Buffer): Header | undefined {
  if (b.length < 33 || b.toString("latin1", 12, 16) !== "IHDR") return undefined;
  // libvips honours an eXIf chunk's orientation: leave such files to it.
  for (let i = 8; i + 8 <= b.length; ) {
    const type = b.toString("latin1", i + 4, i + 8);
    if (type === "eXIf") return undefined;
    if (type === "IDAT") break;
    i += 12 + b.readUInt32BE(i);
  }
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20), orientation: 0 };
}
