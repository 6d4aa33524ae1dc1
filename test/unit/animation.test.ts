/**
 * Telling an animated GIF or WebP from its first bytes (animation.ts), and what `process` says of
 * an answer's frames (frames.ts framesWarning). Every image is made by sharp.
 */
import sharp, { type Sharp } from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { isAnimated } from "../../src/protocol/animation.js";
import {
  builtInServer,
  flattenedHeader,
  framesHeader,
  framesWarning,
  silentlyFlattenedWarning,
} from "../../src/protocol/frames.js";
import { animatedGif } from "../helpers/damaged.js";

const still = sharp({ create: { width: 40, height: 30, channels: 3, background: "#369" } });

/** A strip of `frames` frames of 40x30, each its own shade, for sharp to write as an animation. */
function strip(frames: number): Sharp {
  const raw = Buffer.alloc(40 * 30 * 3 * frames);
  for (let f = 0; f < frames; f += 1) raw.fill(f * 60, f * 40 * 30 * 3, (f + 1) * 40 * 30 * 3);
  return sharp(raw, { raw: { width: 40, height: 30 * frames, channels: 3, pageHeight: 30 } });
}

/** Where a GIF's image descriptors start: its blocks walked as the GIF89a specification lays them out. */
function descriptorsOf(gif: Buffer): number[] {
  const tableOf = (flags: number): number => (flags & 0x80 ? 3 * 2 ** ((flags & 7) + 1) : 0);
  const afterSubBlocks = (at: number): number => {
    let position = at;
    while (gif[position] !== 0) position += 1 + gif[position]!;
    return position + 1;
  };
  const descriptors: number[] = [];
  for (let position = 13 + tableOf(gif[10]!); position < gif.length; ) {
    if (gif[position] === 0x21) {
      position = afterSubBlocks(position + 2);
    } else if (gif[position] === 0x2c) {
      descriptors.push(position);
      position = afterSubBlocks(position + 10 + tableOf(gif[position + 9]!) + 1);
    } else {
      break;
    }
  }
  return descriptors;
}

let loopingGif: Buffer;
let onceGif: Buffer;
let animatedWebp: Buffer;

beforeAll(async () => {
  loopingGif = await strip(3).gif({ loop: 0 }).toBuffer();
  // loop: 1 is written without the NETSCAPE2.0 extension: only the frames tell.
  onceGif = await strip(3).gif({ loop: 1 }).toBuffer();
  animatedWebp = await strip(3).webp({ loop: 0 }).toBuffer();
});

describe("isAnimated: GIF", () => {
  it("takes a GIF of several frames, with or without its looping extension", async () => {
    expect(loopingGif.includes("NETSCAPE2.0")).toBe(true);
    expect(onceGif.includes("NETSCAPE2.0")).toBe(false);
    expect(isAnimated(loopingGif)).toBe(true);
    expect(isAnimated(onceGif)).toBe(true);
    expect(isAnimated(await animatedGif(8, 120, 80))).toBe(true);
  });

  it("does not take a GIF of one frame, even one carrying the looping extension", async () => {
    const oneLooping = await still.clone().gif({ loop: 0 }).toBuffer();
    expect(oneLooping.includes("NETSCAPE2.0")).toBe(true);
    expect(isAnimated(oneLooping)).toBe(false);
    expect(isAnimated(await still.clone().gif().toBuffer())).toBe(false);
  });

  it("needs the bytes only up to the second frame's descriptor", () => {
    expect(descriptorsOf(onceGif)).toHaveLength(3);
    const [, second = 0] = descriptorsOf(onceGif);
    expect(isAnimated(onceGif.subarray(0, second + 1))).toBe(true);
    expect(isAnimated(onceGif.subarray(0, second))).toBe(false);
  });

  it("judges a head that ends inside the first frame by the looping extension", () => {
    // Past the first descriptor (10 bytes), the LZW code size and the first data block's length.
    const inFirstFrame = (gif: Buffer): Buffer => gif.subarray(0, descriptorsOf(gif)[0]! + 12);
    expect(isAnimated(inFirstFrame(loopingGif))).toBe(true);
    expect(isAnimated(inFirstFrame(onceGif))).toBe(false);
  });
});

describe("isAnimated: WebP", () => {
  it("takes an animated WebP, and one whose head ends inside its first frame by its animation flag", () => {
    expect(isAnimated(animatedWebp)).toBe(true);
    const firstFrame = animatedWebp.indexOf("ANMF");
    expect(isAnimated(animatedWebp.subarray(0, firstFrame + 20))).toBe(true);
  });

  it("does not take a still WebP, lossy, lossless or with transparency (VP8X without the flag)", async () => {
    const transparent = { width: 40, height: 30, channels: 4 as const, background: "#3694" };
    const withAlpha = await sharp({ create: transparent }).webp().toBuffer();
    expect(withAlpha.subarray(12, 16).toString("latin1")).toBe("VP8X");
    expect(isAnimated(withAlpha)).toBe(false);
    expect(isAnimated(await still.clone().webp().toBuffer())).toBe(false);
    expect(isAnimated(await still.clone().webp({ lossless: true }).toBuffer())).toBe(false);
  });
});

describe("isAnimated: anything else", () => {
  it("does not take other formats, short heads or broken structure, and never throws", async () => {
    expect(isAnimated(await still.clone().jpeg().toBuffer())).toBe(false);
    expect(isAnimated(await still.clone().png().toBuffer())).toBe(false);
    expect(isAnimated(Buffer.from("GIF89a"))).toBe(false);
    expect(isAnimated(Buffer.from("RIFF\xff\xff\xff\xffWEBPVP8X", "latin1"))).toBe(false);
    expect(isAnimated(Buffer.concat([loopingGif.subarray(0, 13), Buffer.alloc(64, 0x99)]))).toBe(false);
    expect(isAnimated(new Uint8Array(0))).toBe(false);
  });
});

describe("framesWarning", () => {
  const unread = (): Uint8Array => {
    throw new Error("the input's bytes were read for an answer that says what became of its frames");
  };

  it("puts the built-in backend's flattened header in words, and says nothing of kept frames", () => {
    expect(framesWarning({ [flattenedHeader]: "3; PNG cannot animate" }, unread)).toBe(
      "only the first of 3 frames was kept: PNG cannot animate",
    );
    expect(framesWarning({ [framesHeader]: "3" }, unread)).toBeUndefined();
  });

  it("trusts the built-in backend's silence: a still GIF's head may look like an animation's", async () => {
    // Pseudo-random pixels compress badly: the one frame runs far past a 4 KiB head.
    const pixels = Buffer.alloc(160 * 120 * 3);
    let state = 1;
    for (let i = 0; i < pixels.length; i += 1) pixels[i] = (state = (state * 1103515245 + 12345) >>> 0) >>> 24;
    const raw = { width: 160, height: 120, channels: 3 as const };
    const largeStill = await sharp(pixels, { raw }).gif({ loop: 0 }).toBuffer();
    expect(largeStill.length).toBeGreaterThan(8 * 1024);
    const head = largeStill.subarray(0, 4 * 1024);
    expect(isAnimated(largeStill)).toBe(false);
    expect(isAnimated(head)).toBe(true);
    expect(framesWarning({ server: `${builtInServer} (sharp 0.34.5, libvips 8.17.3)` }, () => head)).toBeUndefined();
    expect(framesWarning({ server: "imaginary 1.2.4 (bimg 1.1.7)" }, () => head)).toBe(silentlyFlattenedWarning);
  });

  it("with neither header (imaginary), says an animated input was flattened, and nothing of a still one", async () => {
    const imaginary = { "content-type": "image/webp", server: "imaginary 1.2.4 (bimg 1.1.7)" };
    expect(framesWarning(imaginary, () => loopingGif)).toBe(silentlyFlattenedWarning);
    expect(framesWarning(imaginary, () => animatedWebp)).toBe(silentlyFlattenedWarning);
    expect(framesWarning({ "content-type": "image/webp" }, () => onceGif)).toBe(silentlyFlattenedWarning);
    const stillGif = await still.clone().gif().toBuffer();
    expect(framesWarning(imaginary, () => stillGif)).toBeUndefined();
  });
});
