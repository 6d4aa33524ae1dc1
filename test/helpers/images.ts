/**
 * Test images made by sharp at the dimensions of imaginary's own fixtures (docs/reference/imaginary-api.md §5.1),
 * so the sizes imaginary's tests assert (§1.5, §5.2) can be reproduced without binary fixtures in
 * the repository. Every generator is deterministic; `loadFixtures()` caches per process, so a test
 * file pays for generation once.
 */
import sharp from "sharp";
import type { ImageRequest } from "../../src/engine/types.js";

export type Orientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;
export type Rgb = readonly [number, number, number];

export interface Fixture {
  /** imaginary's fixture name this stands in for (or a descriptive name). */
  readonly name: string;
  readonly buffer: Buffer;
  readonly width: number;
  readonly height: number;
  readonly format: "jpeg" | "png" | "webp" | "gif" | "svg";
}

export interface Fixtures {
  /** `large.jpg`: JPEG 1920×1080. */
  readonly large: Fixture;
  /** `imaginary.jpg`: JPEG 550×740 with an embedded ICC profile, EXIF orientation 1. */
  readonly imaginary: Fixture;
  /** `smart-crop.jpg`: JPEG 700×1050. */
  readonly smartCrop: Fixture;
  /** `test.png`: PNG 400×300 RGBA. */
  readonly png: Fixture;
  /** `test.webp`: WebP 550×368. */
  readonly webp: Fixture;
  /** A GIF 200×100 (imaginary cannot write GIF: output needs `type`). */
  readonly gif: Fixture;
  /** `flyio-button.svg`-like SVG 172×42. */
  readonly svg: Fixture;
  /** `1024bytes`: 1024 ASCII "1" characters (not an image). */
  readonly notAnImage: Buffer;
}

/** Colours of the four quadrants of the upright orientation test image (top-left first, clockwise). */
export const quadrants = {
  topLeft: [255, 0, 0],
  topRight: [0, 255, 0],
  bottomRight: [255, 255, 255],
  bottomLeft: [0, 0, 255],
} as const satisfies Record<string, Rgb>;

/** Upright size of the orientation test image (landscape, so 5–8 swap the stored dimensions). */
export const orientedSize = { width: 300, height: 200 } as const;

function sceneSvg(width: number, height: number): Buffer {
  // Gradients and shapes: enough detail for JPEG/WebP to behave like a photo and for smartcrop
  // to find a salient region (the orange disc in the lower third).
  const r = Math.round(Math.min(width, height) / 5);
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
      <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
        <stop offset="0" stop-color="#1d4e89"/><stop offset="1" stop-color="#7fb7be"/></linearGradient></defs>
      <rect width="100%" height="100%" fill="url(#g)"/>
      <rect x="${Math.round(width * 0.08)}" y="${Math.round(height * 0.1)}" width="${Math.round(width * 0.3)}"
        height="${Math.round(height * 0.2)}" fill="#f2f2f2"/>
      <circle cx="${Math.round(width * 0.62)}" cy="${Math.round(height * 0.7)}" r="${r}" fill="#f28c28"/>
      <circle cx="${Math.round(width * 0.62)}" cy="${Math.round(height * 0.7)}" r="${Math.round(r / 3)}" fill="#222"/>
    </svg>`,
  );
}

/** A JPEG of the given size with photo-like content. */
export async function makeJpeg(width: number, height: number, quality = 85): Promise<Buffer> {
  return sharp(sceneSvg(width, height)).jpeg({ quality }).toBuffer();
}

/** A solid PNG (small on disk whatever its size): for resolution-limit tests. */
export async function makeSolidPng(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 40, g: 90, b: 160 } } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}

/** Raw RGB pixels of the upright four-quadrant image. */
async function uprightRaw(): Promise<{ data: Buffer; width: number; height: number }> {
  const { width, height } = orientedSize;
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const top = y < height / 2;
      const left = x < width / 2;
      const c = top
        ? left
          ? quadrants.topLeft
          : quadrants.topRight
        : left
          ? quadrants.bottomLeft
          : quadrants.bottomRight;
      data.set(c, (y * width + x) * 3);
    }
  }
  return { data, width, height };
}

async function transformRaw(
  raw: { data: Buffer; width: number; height: number },
  step: "rotate90" | "rotate180" | "rotate270" | "flip" | "flop",
): Promise<{ data: Buffer; width: number; height: number }> {
  let img = sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: 3 } });
  if (step === "flip") img = img.flip();
  else if (step === "flop") img = img.flop();
  else img = img.rotate(step === "rotate90" ? 90 : step === "rotate180" ? 180 : 270);
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/**
 * A JPEG tagged with EXIF `orientation` whose stored pixels are the inverse transform of the
 * upright four-quadrant image, so that correct auto-rotation always shows red at the top left
 * and a 300×200 image. Steps are separate pipelines to avoid relying on sharp's op ordering.
 */
export async function makeOrientedJpeg(orientation: Orientation): Promise<Buffer> {
  const stepsFor: Record<Orientation, Array<"rotate90" | "rotate180" | "rotate270" | "flip" | "flop">> = {
    1: [],
    2: ["flop"],
    3: ["rotate180"],
    4: ["flip"],
    5: ["rotate90", "flop"], // transpose (self-inverse)
    6: ["rotate270"], // displayed = rotate 90 CW of stored
    7: ["rotate90", "flip"], // transverse (self-inverse)
    8: ["rotate90"], // displayed = rotate 270 CW of stored
  };
  let raw = await uprightRaw();
  for (const step of stepsFor[orientation]) raw = await transformRaw(raw, step);
  return sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: 3 } })
    .jpeg({ quality: 95 })
    .withMetadata({ orientation })
    .toBuffer();
}

/** The RGB value at (x, y) of a decoded image (no auto-orientation applied). */
export async function pixelAt(image: Buffer, x: number, y: number): Promise<Rgb> {
  const { data, info } = await sharp(image)
    .removeAlpha()
    .toColourspace("srgb")
    .raw()
    .toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i] ?? -1, data[i + 1] ?? -1, data[i + 2] ?? -1];
}

/** True when two colours are within `tolerance` per channel (JPEG is lossy). */
export function isNear(a: Rgb, b: Rgb, tolerance = 40): boolean {
  return a.every((v, i) => Math.abs(v - (b[i] ?? 0)) <= tolerance);
}

let cached: Promise<Fixtures> | undefined;

/** All fixtures, generated once per process. */
export function loadFixtures(): Promise<Fixtures> {
  cached ??= generateFixtures();
  return cached;
}

async function generateFixtures(): Promise<Fixtures> {
  const [large, imaginary, smartCrop, png, webp, gif] = await Promise.all([
    makeJpeg(1920, 1080),
    sharp(sceneSvg(550, 740)).jpeg({ quality: 85 }).withIccProfile("srgb").toBuffer(),
    makeJpeg(700, 1050),
    sharp(sceneSvg(400, 300)).ensureAlpha(0.6).png().toBuffer(),
    sharp(sceneSvg(550, 368)).webp({ quality: 80 }).toBuffer(),
    sharp(sceneSvg(200, 100)).gif().toBuffer(),
  ]);
  const svg = Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
      `<svg xmlns="http://www.w3.org/2000/svg" width="172" height="42" viewBox="0 0 172 42">` +
      `<rect width="172" height="42" rx="6" fill="#7b3be2"/><circle cx="21" cy="21" r="12" fill="#fff"/></svg>\n`,
  );
  return {
    large: { name: "large.jpg", buffer: large, width: 1920, height: 1080, format: "jpeg" },
    imaginary: { name: "imaginary.jpg", buffer: imaginary, width: 550, height: 740, format: "jpeg" },
    smartCrop: { name: "smart-crop.jpg", buffer: smartCrop, width: 700, height: 1050, format: "jpeg" },
    png: { name: "test.png", buffer: png, width: 400, height: 300, format: "png" },
    webp: { name: "test.webp", buffer: webp, width: 550, height: 368, format: "webp" },
    gif: { name: "test.gif", buffer: gif, width: 200, height: 100, format: "gif" },
    svg: { name: "flyio-button.svg", buffer: svg, width: 172, height: 42, format: "svg" },
    notAnImage: Buffer.alloc(1024, "1"),
  };
}

/** A 320×240 JPEG resized to 64×48, as an engine call: the request the engine tests send. */
export function resizeRequest(jpeg: Buffer): ImageRequest {
  return {
    op: "resize",
    query: new URLSearchParams({ width: "64", height: "48" }),
    body: jpeg,
    contentType: "image/jpeg",
  };
}
