// The baseline of bench/batch.mjs and bench/renditions.mjs, run as its own process so it can be
// pinned to a CPU (taskset): the files of a directory through sharp in one process, written with
// toFile, `--concurrency` outputs at once. libvips is set up as the backend sets it up (server.ts):
// `--vips-threads` threads per image, no cache. Two kinds of work:
//   default: batch.mjs's imaginary resize as the backend does it (fit inside 300x200, then extend
//            with `copy` to 300x200, JPEG q75);
//   --widths 320,640,1280 --types webp,jpeg: renditions.mjs's, every width × type of each input as
//            the backend makes an output of `process --width … --type …` (src/backend/imaging.ts,
//            encode.ts): auto-orient, resize to the width (never past the source's), metadata
//            stripped (the CLI sends stripmeta), a JPEG flattened onto white (the CLI sends
//            background=255,255,255), quality 75, baseline JPEG without mozjpeg, lossy WebP at
//            sharp's default effort; named {name}-{width}w.{ext}, as the CLI names them.
// Prints one JSON line: {"seconds": …, "outputs": …} for the work alone (node and sharp start-up
// excluded, as for an in-process baseline).
//
//   node bench/sharp-batch.mjs <in-dir> <out-dir> --concurrency N --vips-threads T [--widths W,… --types T,…]
import { mkdir, readdir } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import sharp from "sharp";

const [inDir, outDir, ...rest] = process.argv.slice(2);
const option = (name, fallback) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 && rest[i + 1] ? rest[i + 1] : fallback;
};
const concurrency = Number(option("concurrency", 2));
sharp.concurrency(Number(option("vips-threads", 1)));
sharp.cache(false);
const widths = option("widths", "").split(",").filter(Boolean).map(Number);
const types = option("types", "").split(",").filter(Boolean);
const extensionOf = { jpeg: "jpg", webp: "webp", png: "png", avif: "avif" };

/** batch.mjs makes every input 2000x1500: fit inside 300x200 is 267x200, centred as bimg embeds. */
const thumbnail = (file) =>
  sharp(file)
    .resize(267, 200, { fit: "fill" })
    .extend({ left: 16, right: 17, extendWith: "copy" })
    .jpeg({ quality: 75 })
    .toFile(join(outDir, basename(file)));

/** One rendition, as the backend renders `GET /resize?width=W&type=T&stripmeta=true[&background=…]`. */
const rendition = ({ file, width, type }) => {
  let img = sharp(file, { failOn: "none", limitInputPixels: false })
    .autoOrient()
    .resize({ width, withoutEnlargement: true });
  if (type === "jpeg") img = img.flatten({ background: { r: 255, g: 255, b: 255 } });
  img =
    type === "jpeg"
      ? img.jpeg({ quality: 75, progressive: false, mozjpeg: false })
      : img.toFormat(type, { quality: 75, lossless: false });
  const name = `${basename(file, extname(file))}-${width}w.${extensionOf[type] ?? type}`;
  return img.toFile(join(outDir, name));
};

const files = (await readdir(inDir)).sort().map((f) => join(inDir, f));
const units =
  widths.length === 0
    ? files
    : files.flatMap((file) => types.flatMap((type) => widths.map((width) => ({ file, width, type }))));
const work = widths.length === 0 ? thumbnail : rendition;
await mkdir(outDir, { recursive: true });
const started = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: Math.min(concurrency, units.length) }, async () => {
    for (let i = next++; i < units.length; i = next++) await work(units[i]);
  }),
);
console.log(JSON.stringify({ seconds: (performance.now() - started) / 1000, outputs: units.length }));
