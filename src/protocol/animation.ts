/**
 * Whether an input is an animation, told from its first bytes: for what imaginary leaves unsaid
 * (it keeps the first frame of any animation, docs/reference/imaginary-api.md §4). The walk is bounded by the
 * bytes given and stops at a second frame; where they end before it, the animation's own marker
 * decides: a GIF's looping extension, a WebP's animation flag or ANIM chunk.
 */
import { detectFormat } from "./formats.js";

const latin1 = new TextDecoder("latin1");

/** Whether `head`, the start of an image (or all of it), is a GIF or WebP of more than one frame. */
export function isAnimated(head: Uint8Array): boolean {
  const ascii = (from: number, to: number): string => latin1.decode(head.subarray(from, to));
  const format = detectFormat(head);
  if (format === "gif") return isAnimatedGif(head, ascii);
  if (format === "webp") return isAnimatedWebp(head, ascii);
  return false;
}

/** Image descriptors counted up to two; a GIF whose first frame outruns `head` is judged by NETSCAPE2.0/ANIMEXTS1.0. */
function isAnimatedGif(head: Uint8Array, ascii: (from: number, to: number) => string): boolean {
  let hasLoopExtension = false;
  let frames = 0;
  /** The position after the data sub-blocks starting at `at`, or undefined where `head` ends first. */
  const afterSubBlocks = (at: number): number | undefined => {
    for (let position = at; position < head.length; ) {
      const size = head[position] as number;
      position += 1 + size;
      if (size === 0) return position;
    }
    return undefined;
  };
  const screenFlags = head[10] ?? 0;
  let position: number | undefined = 13 + colourTableBytes(screenFlags);
  while (position !== undefined && position < head.length) {
    const block = head[position];
    if (block === 0x3b) return false; // the trailer: the whole image was seen, with fewer than two frames
    if (block === 0x21) {
      // An application extension: 0x21 0xff, a block of 11 bytes naming it, then its data.
      if (head[position + 1] === 0xff && head[position + 2] === 11) {
        const name = ascii(position + 3, position + 14);
        if (name === "NETSCAPE2.0" || name === "ANIMEXTS1.0") hasLoopExtension = true;
      }
      position = afterSubBlocks(position + 2);
    } else if (block === 0x2c) {
      frames += 1;
      if (frames >= 2) return true;
      const imageFlags = head[position + 9] ?? 0;
      // The descriptor (10 bytes), its colour table, the LZW code size (1 byte), the pixel data.
      position = afterSubBlocks(position + 10 + colourTableBytes(imageFlags) + 1);
    } else {
      break; // not GIF block structure: nothing more can be told from here
    }
  }
  return hasLoopExtension;
}

/** Size of the colour table a GIF flags byte announces (none without its top bit). */
function colourTableBytes(flags: number): number {
  return flags & 0x80 ? 3 * 2 ** ((flags & 0x07) + 1) : 0;
}

/** ANMF frames are counted up to two; a WebP whose first frame outruns `head` is judged by VP8X's flag or ANIM. */
function isAnimatedWebp(head: Uint8Array, ascii: (from: number, to: number) => string): boolean {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const riffEnd = 8 + view.getUint32(4, true);
  let isMarked = false;
  let frames = 0;
  let position = 12;
  while (position + 8 <= head.length && position < riffEnd) {
    const chunk = ascii(position, position + 4);
    if (chunk === "VP8X" && ((head[position + 8] ?? 0) & 0x02) !== 0) isMarked = true;
    if (chunk === "ANIM") isMarked = true;
    if (chunk === "ANMF") frames += 1;
    if (frames >= 2) return true;
    const size = view.getUint32(position + 4, true);
    position += 8 + size + (size % 2); // chunks are padded to an even length
  }
  // Every chunk seen: one frame at most. Else the rest is past `head`, and the marker decides.
  return position >= riffEnd ? false : isMarked;
}
