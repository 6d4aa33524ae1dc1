/**
 * What the incremental record knows of an input (src/cli/batch/input-facts.ts): the hash of every
 * byte, whatever the file's size against the pieces it is read in; and its size, read from its
 * header only when its bytes are not the ones recorded, so a fresh checkout (every input a new
 * file, none changed) reads no header.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inputFactsOf } from "../../src/cli/batch/input-facts.js";
import { checkedFile, pieceBytes } from "../../src/cli/batch/input-file.js";
import type { RecordedInput } from "../../src/cli/batch/record.js";

let dir: string;
let jpeg: Buffer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "aciimg-input-facts-"));
  jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#4080c0" } })
    .jpeg()
    .toBuffer();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The input at a new path, and what planning's check says its identity is. */
async function input(name: string): Promise<{ path: string; identity: string }> {
  const path = join(dir, name);
  await writeFile(path, jpeg);
  const checked = checkedFile(path, name);
  if (!("identity" in checked)) throw checked;
  return { path, identity: checked.identity };
}

/** A record of an input of `hash`, read at another file version, with a size its header does not have. */
const recordedAs = (hash: string): RecordedInput => ({
  hash,
  bytes: jpeg.length,
  version: "0:0:0:0:0",
  width: 640,
  height: 480,
  format: "jpeg",
  outputs: [],
});

describe("input facts", () => {
  it("the hash is the sha256 of every byte, for a file under one piece, of one piece, and over one", async () => {
    for (const size of [1, pieceBytes - 1, pieceBytes, pieceBytes + 1, 2 * pieceBytes + 7]) {
      const bytes = randomBytes(size);
      const path = join(dir, `bytes-${size}`);
      await writeFile(path, bytes);
      const checked = checkedFile(path, "bytes");
      if (!("identity" in checked)) throw checked;
      const facts = await inputFactsOf(path, checked.identity, undefined, false);
      expect(facts, `${size} bytes`).toMatchObject({
        hash: createHash("sha256").update(bytes).digest("hex"),
        bytes: size,
      });
    }
  });

  it("a new file with the recorded bytes keeps the recorded size: its header is not read", async () => {
    const { path, identity } = await input("same.jpg");
    const hash = createHash("sha256").update(jpeg).digest("hex");
    const facts = await inputFactsOf(path, identity, recordedAs(hash), true);
    expect(facts).toMatchObject({ hash, bytes: jpeg.length, width: 640, height: 480, format: "jpeg" });
  });

  it("an input whose bytes are not the recorded ones has its size read from its header", async () => {
    const { path, identity } = await input("changed.jpg");
    const facts = await inputFactsOf(path, identity, recordedAs("0".repeat(64)), true);
    expect(facts).toMatchObject({ width: 64, height: 48, format: "jpeg" });
  });
});

describe("an input's displayed size", () => {
  // A JPEG's and a whole PNG's size is read from the bytes hashed; sharp reads the others'. Both
  // must agree with sharp's, EXIF orientation applied (a portrait taken sideways is taller than wide).
  const base = () => sharp({ create: { width: 60, height: 20, channels: 3, background: "#c08040" } });
  const cases: Array<[string, () => Promise<Buffer>]> = [
    ["plain.jpg", () => base().jpeg().toBuffer()],
    ["turned.jpg", () => base().jpeg().withMetadata({ orientation: 6 }).toBuffer()],
    ["mirrored.jpg", () => base().jpeg().withMetadata({ orientation: 2 }).toBuffer()],
    ["progressive.jpg", () => base().jpeg({ progressive: true }).toBuffer()],
    ["plain.png", () => base().png().toBuffer()],
    ["turned.png", () => base().png().withMetadata({ orientation: 8 }).toBuffer()],
    ["photo.webp", () => base().webp().toBuffer()],
    ["graphic.gif", () => base().gif().toBuffer()],
  ];

  it.each(cases)("%s: as sharp reads it", async (name, make) => {
    const path = join(dir, name);
    await writeFile(path, await make());
    const checked = checkedFile(path, name);
    if (!("identity" in checked)) throw checked;
    const facts = await inputFactsOf(path, checked.identity, undefined, true);
    const meta = await sharp(path).metadata();
    const isTurned = (meta.orientation ?? 1) >= 5;
    expect(facts).toMatchObject({
      width: isTurned ? meta.height : meta.width,
      height: isTurned ? meta.width : meta.height,
      format: meta.format,
    });
    expect(facts.width, "a turned image is shown taller than wide").toBe(name.startsWith("turned") ? 20 : 60);
  });
});
