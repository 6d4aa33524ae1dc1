/**
 * Which files a folder search and a glob take: image extensions in any of their usual spellings
 * (`.jpg .jpeg .JPG .JPEG .png .PNG …`), as cameras and phones name them. The files are empty: the
 * search looks at names only; what is inside is checked later, per file.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expandInputs } from "../../src/cli/batch/inputs.js";

let dir: string;
const images = ["a.jpg", "b.JPG", "c.jpeg", "d.JPEG", "icons/e.png", "icons/f.PNG", "g.Jpg"].map(
  (name) => `assets/${name}`,
);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "aciimg-inputs-case-"));
  for (const name of [...images, "assets/notes.txt", "assets/h.webp"]) {
    await mkdir(join(dir, name, ".."), { recursive: true });
    await writeFile(join(dir, name), "");
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function found(input: string): Promise<string[]> {
  const { items, failures } = await expandInputs([input], { cwd: dir, followSymlinks: false });
  expect(failures).toEqual([]);
  return items.map((item) => relative(dir, item.path)).sort();
}

describe("input search: extensions in any case", () => {
  it("a folder search takes .JPG, .jpeg, .JPEG and .PNG as it takes .jpg and .png", async () => {
    expect(await found("assets")).toEqual([...images, "assets/h.webp"].sort());
  });

  it("a glob matches without regard to case: '*.{jpg,jpeg,png}' takes .JPG, .JPEG, .Jpg and .PNG", async () => {
    expect(await found("assets/**/*.{jpg,jpeg,png}")).toEqual([...images].sort());
  });

  it("a glob's own case does not matter either: '*.JPG' takes a.jpg", async () => {
    expect(await found("assets/*.JPG")).toEqual(["assets/a.jpg", "assets/b.JPG", "assets/g.Jpg"]);
  });

  it("keeps each output's path below the glob's base, with the input's own spelling", async () => {
    const { items } = await expandInputs(["assets/**/*.png"], { cwd: dir, followSymlinks: false });
    expect(items.map((item) => item.relativeOutput).sort()).toEqual(["icons/e.png", "icons/f.PNG"]);
  });
});
