// The benchmarks' input images, made with sharp: the same photo-like JPEGs in every bench, so
// their numbers can be compared.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";

/** Distinct photo-like JPEGs 2000x1500: a gradient scene with noise, tinted per image (q85, ~1 MB each). */
export async function makeImages(dir, count) {
  await mkdir(dir, { recursive: true });
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" ` +
    `width="2000" height="1500"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" ` +
    `stop-color="#2b6cb0"/><stop offset="1" stop-color="#f6ad55"/></linearGradient></defs><rect width="2000" ` +
    `height="1500" fill="url(#g)" opacity="0.85"/><circle cx="1400" cy="500" r="300" fill="#fff"/></svg>`;
  const base = await sharp({
    create: { width: 2000, height: 1500, channels: 3, noise: { type: "gaussian", mean: 128, sigma: 40 } },
  })
    .composite([{ input: Buffer.from(svg) }])
    .blur(1.2)
    .raw()
    .toBuffer();
  for (let i = 0; i < count; i++) {
    await sharp(base, { raw: { width: 2000, height: 1500, channels: 3 } })
      .modulate({ hue: (i * 7) % 360, brightness: 0.9 + (i % 5) / 25 })
      .jpeg({ quality: 85 })
      .toFile(join(dir, `img-${String(i).padStart(4, "0")}.jpg`));
  }
}
