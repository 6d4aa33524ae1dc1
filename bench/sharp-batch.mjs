// The baseline of bench/batch.mjs, run as its own process so it can be pinned to a CPU (taskset):
// the files of a directory through sharp in one process, imaginary's resize as the backend does it
// (fit inside 300x200, then extend with `copy` to 300x200, JPEG q75), written with toFile. libvips
// is set up as the backend sets it up (server.ts): `--vips-threads` threads per image, no cache.
// Prints one JSON line: {"seconds": …} for the work alone (node and sharp start-up excluded, as
// for an in-process baseline).
//
//   node bench/sharp-batch.mjs <in-dir> <out-dir> --concurrency N --vips-threads T
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";

const [inDir, outDir, ...rest] = process.argv.slice(2);
const option = (name, fallback) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 && rest[i + 1] ? Number(rest[i + 1]) : fallback;
};
const concurrency = option("concurrency", 2);
sharp.concurrency(option("vips-threads", 1));
sharp.cache(false);

const files = (await readdir(inDir)).sort().map((f) => join(inDir, f));
await mkdir(outDir, { recursive: true });
const started = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: Math.min(concurrency, files.length) }, async () => {
    for (let i = next++; i < files.length; i = next++) {
      const file = files[i];
      // batch.mjs makes every input 2000x1500: fit inside 300x200 is 267x200, centred as bimg embeds.
      await sharp(file)
        .resize(267, 200, { fit: "fill" })
        .extend({ left: 16, right: 17, extendWith: "copy" })
        .jpeg({ quality: 75 })
        .toFile(join(outDir, file.split("/").at(-1)));
    }
  }),
);
console.log(JSON.stringify({ seconds: (performance.now() - started) / 1000 }));
