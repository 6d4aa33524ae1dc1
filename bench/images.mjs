// The benchmarks' input images, made with sharp: the same photo-like JPEGs in every bench, so
// their numbers can be compared.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";

/** The scene at 2000x1500, raw RGB, by the size it is wanted at (made once per size). */
const scenes = new Map();

async function sceneAt(width, height) {
  const key = `${width}x${height}`;
  if (!scenes.has(key)) {
    const svg =
      `<svg xmlns="http://www.w3.org/2000/svg" ` +
      `width="2000" height="1500"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" ` +
      `stop-color="#2b6cb0"/><stop offset="1" stop-color="#f6ad55"/></linearGradient></defs><rect width="2000" ` +
      `height="1500" fill="url(#g)" opacity="0.85"/><circle cx="1400" cy="500" r="300" fill="#fff"/></svg>`;
    let scene = sharp({
      create: { width: 2000, height: 1500, channels: 3, noise: { type: "gaussian", mean: 128, sigma: 40 } },
    })
      .composite([{ input: Buffer.from(svg) }])
      .blur(1.2);
    if (width !== 2000 || height !== 1500) scene = sharp(await scene.raw().toBuffer(), { raw: rawOf(2000, 1500) });
    if (width !== 2000 || height !== 1500) scene = scene.resize(width, height, { fit: "fill" });
    scenes.set(key, scene.raw().toBuffer());
  }
  return scenes.get(key);
}

const rawOf = (width, height) => ({ width, height, channels: 3 });

/**
 * The photo-like JPEG number `index` at `path`: the scene tinted by the index (q85). The tint
 * repeats every 360 images, so from 360 on the index is also written into the first pixels: every
 * index is a different file.
 */
export async function makeImage(path, index, { width = 2000, height = 1500 } = {}) {
  let pixels = await sceneAt(width, height);
  if (index >= 360) {
    pixels = Buffer.from(pixels);
    pixels.writeUInt32BE(index, 0);
  }
  await sharp(pixels, { raw: rawOf(width, height) })
    .modulate({ hue: (index * 7) % 360, brightness: 0.9 + (index % 5) / 25 })
    .jpeg({ quality: 85 })
    .toFile(path);
}

/**
 * `count` distinct photo-like JPEGs in `dir`, img-0000.jpg on: a gradient scene with noise, tinted
 * per image; by default 2000x1500 (~1 MB each), `width` and `height` scale the scene.
 */
export async function makeImages(dir, count, size = {}) {
  await mkdir(dir, { recursive: true });
  const digits = Math.max(4, String(count - 1).length);
  for (let i = 0; i < count; i++) await makeImage(join(dir, `img-${String(i).padStart(digits, "0")}.jpg`), i, size);
}
