/**
 * Images made by sharp, then damaged as copies and downloads damage them, and animations: for the
 * tests of decoding at a `failon` level and of frames kept or flattened. Every one is
 * deterministic.
 */
import sharp from "sharp";

/** A 32-bit linear congruential sequence from `seed`: the same bytes on every run. */
function sequence(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (state * 1103515245 + 12345) >>> 0);
}

/** Noise over a gradient, so the JPEG's entropy-coded data is photo-like and long. */
export async function noisyJpeg(width: number, height: number): Promise<Buffer> {
  const next = sequence(12345);
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i += 1) raw[i] = ((i % (width * 3)) / 12 + (next() >>> 26)) & 255;
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** 5 KB in the middle overwritten with pseudo-random bytes. */
export function overwritten(jpeg: Buffer): Buffer {
  const next = sequence(99);
  const damaged = Buffer.from(jpeg);
  const start = Math.floor(jpeg.length / 2);
  for (let i = start; i < start + 5000; i += 1) damaged[i] = next() >>> 24;
  return damaged;
}

/** The first 60 % of the file, then an end-of-image marker: it passes a check for the marker. */
export function cutWithEndMarker(jpeg: Buffer): Buffer {
  return Buffer.concat([jpeg.subarray(0, Math.floor(jpeg.length * 0.6)), Buffer.from([0xff, 0xd9])]);
}

/**
 * An animated GIF of `frames` frames of `width`×`height`, each a different shade with one pixel of
 * its own, so no encoder merges two; 100 ms a frame, looping.
 */
export async function animatedGif(frames: number, width: number, height: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * frames * 3);
  for (let f = 0; f < frames; f += 1) {
    raw.fill((f * 37) & 255, f * width * height * 3, (f + 1) * width * height * 3);
    const pixel = (f * width * height + (f % (width * height))) * 3;
    raw[pixel] = 255;
    raw[pixel + 1] = 255;
    raw[pixel + 2] = 255;
  }
  const strip = { width, height: height * frames, channels: 3 as const, pageHeight: height };
  return sharp(raw, { raw: strip, limitInputPixels: false })
    .gif({ loop: 0, delay: Array.from({ length: frames }, () => 100), effort: 1 })
    .toBuffer();
}
