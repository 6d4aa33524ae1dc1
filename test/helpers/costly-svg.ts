/**
 * The issue 22 (point 5) SVG: ~210 bytes, 3000×3000 (9 MP, under the 18 MP limit), whose filter
 * chain librsvg renders for minutes on one core (feMorphology is radius² work per pixel).
 */
export function costlySvg(size = 3000): Buffer {
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><filter id="f">` +
      `<feMorphology radius="100"/><feGaussianBlur stdDeviation="50"/></filter>` +
      `<rect width="100%" height="100%" filter="url(#f)"/></svg>`,
  );
}

/** Children of this process whose command line contains `needle` (the render processes). */
export async function childrenMatching(needle: string): Promise<number[]> {
  const { readdir, readFile } = await import("node:fs/promises");
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== process.pid) continue;
      if ((await readFile(`/proc/${entry}/cmdline`, "utf8")).includes(needle)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
