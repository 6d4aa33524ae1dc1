import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rename, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkedFile, openInput, pieceBytes } from "../../src/cli/batch/input-file.js";
import { scanPieceBytes, truncationOf } from "../../src/cli/batch/integrity.js";

let dir: string;
let jpeg: Buffer;
let png: Buffer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "aciimg-integrity-"));
  const image = sharp({
    create: {
      width: 320,
      height: 240,
      channels: 3,
      background: "#000",
      noise: { type: "gaussian", mean: 128, sigma: 30 },
    },
  });
  jpeg = await image.clone().jpeg().toBuffer();
  png = await image.clone().png().toBuffer();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, bytes: Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

/** Why openInput refuses the file, or undefined when it accepts it. */
async function refusal(name: string, bytes: Buffer): Promise<string | undefined> {
  const path = await write(name, bytes);
  return openInput(path, name).then(
    () => undefined,
    (error: Error) => error.message,
  );
}

/** A JPEG bigger than one piece: noise at high quality, plus `extra` bytes after its end. */
async function bigJpeg(extra = 0): Promise<Buffer> {
  const bytes = await sharp({
    create: {
      width: 1400,
      height: 1000,
      channels: 3,
      background: "#000",
      noise: { type: "gaussian", mean: 128, sigma: 60 },
    },
  })
    .jpeg({ quality: 95 })
    .toBuffer();
  expect(bytes.length).toBeGreaterThan(pieceBytes);
  return Buffer.concat([bytes, Buffer.alloc(extra, 0x5a)]);
}

describe("openInput: complete files", () => {
  it("passes complete JPEGs and PNGs", async () => {
    expect(await refusal("ok.jpg", jpeg)).toBeUndefined();
    expect(await refusal("ok.png", png)).toBeUndefined();
  });

  it("passes a JPEG with a trailer after its end (motion photos append video)", async () => {
    expect(await refusal("trailer.jpg", Buffer.concat([jpeg, Buffer.alloc(200_000, 0x5a)]))).toBeUndefined();
    expect(await refusal("big-trailer.jpg", await bigJpeg(300_000))).toBeUndefined();
  });

  it("leaves other content to the backend", async () => {
    expect(await refusal("notes.jpg", Buffer.from("hello, not an image"))).toBeUndefined();
  });
});

describe("openInput: refused files", () => {
  it("finds a JPEG cut short, within one piece or beyond it", async () => {
    expect(await refusal("cut.jpg", jpeg.subarray(0, Math.floor(jpeg.length / 2)))).toBe(
      "cut.jpg is truncated: the JPEG ends before its end-of-image marker (an incomplete copy or download?)",
    );
    const big = await bigJpeg();
    expect(await refusal("big-cut.jpg", big.subarray(0, big.length - 10_000))).toMatch(
      /^big-cut\.jpg is truncated: the JPEG ends before/,
    );
  });

  it("finds a PNG cut short", async () => {
    expect(await refusal("cut.png", png.subarray(0, Math.floor(png.length / 2)))).toBe(
      "cut.png is truncated: the PNG ends before its IEND chunk (an incomplete copy or download?)",
    );
  });

  it("refuses an empty file and a file it cannot read, naming them", async () => {
    expect(await refusal("zero.jpg", Buffer.alloc(0))).toBe("zero.jpg is empty (0 bytes), not an image");
    await expect(openInput(join(dir, "missing.jpg"), "missing.jpg")).rejects.toMatchObject({
      code: "E_BAD_INPUT",
      message: expect.stringMatching(/^cannot read missing\.jpg: ENOENT/),
    });
  });
});

describe("openInput: the body", () => {
  it("streams the exact bytes of a file of several pieces, again on every call", async () => {
    const bytes = await bigJpeg(2 * pieceBytes + 123);
    const path = await write("several.jpg", bytes);
    const input = await openInput(path, "several.jpg");
    expect(input.size).toBe(bytes.length);
    expect((await buffer(input.body())).equals(bytes)).toBe(true);
    expect((await buffer(input.body())).equals(bytes)).toBe(true);
  });

  it("sends a one-piece file from the piece read for the check, even after the file changed", async () => {
    const path = await write("one.jpg", jpeg);
    const input = await openInput(path, "one.jpg");
    await writeFile(path, png);
    expect((await buffer(input.body())).equals(jpeg)).toBe(true);
    expect((await readFile(path)).equals(png)).toBe(true);
  });

  it("reuses a released file's first piece without mixing up bytes", async () => {
    const a = await openInput(await write("a.jpg", jpeg), "a.jpg");
    expect((await buffer(a.body())).equals(jpeg)).toBe(true);
    a.release();
    a.release();
    const b = await openInput(await write("b.png", png), "b.png");
    const c = await openInput(await write("c.jpg", jpeg), "c.jpg");
    expect((await buffer(b.body())).equals(png)).toBe(true);
    expect((await buffer(c.body())).equals(jpeg)).toBe(true);
    b.release();
    c.release();
  });

  it(
    "fails the upload, not a mix of two files, " +
      "when another file of the same size is renamed over it after it was checked",
    async () => {
      const bytes = await bigJpeg(pieceBytes);
      const other = Buffer.from(bytes).fill(0x33, pieceBytes, pieceBytes + 1000);
      const path = await write("renamed.jpg", bytes);
      const input = await openInput(path, "renamed.jpg");
      await writeFile(`${path}.new`, other);
      await rename(`${path}.new`, path);
      await expect(buffer(input.body())).rejects.toMatchObject({
        code: "E_BAD_INPUT",
        message: "renamed.jpg changed while it was being sent",
      });
    },
  );

  it(
    "fails the upload when the file was written to in " + "place after it was checked (same size, same inode)",
    async () => {
      const bytes = await bigJpeg(pieceBytes);
      const path = await write("rewritten.jpg", bytes);
      // Last modified an hour ago, so the write below moves its time whatever the clock's grain.
      await utimes(path, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
      const input = await openInput(path, "rewritten.jpg");
      // Only its times say it was written.
      await writeFile(path, Buffer.from(bytes).fill(0x44, pieceBytes, pieceBytes + 1000), { flag: "r+" });
      await expect(buffer(input.body())).rejects.toMatchObject({
        code: "E_BAD_INPUT",
        message: "rewritten.jpg changed while it was being sent",
      });
    },
  );

  it("refuses a FIFO put in a file's place, before or after it was checked, without hanging", async () => {
    const bytes = await bigJpeg();
    const path = await write("swapped.jpg", bytes);
    const input = await openInput(path, "swapped.jpg");
    await rm(path);
    execFileSync("mkfifo", [path]);
    await expect(buffer(input.body())).rejects.toMatchObject({
      code: "E_BAD_INPUT",
      message: "swapped.jpg changed while it was being sent",
    });
    await expect(openInput(path, "swapped.jpg")).rejects.toMatchObject({
      code: "E_BAD_INPUT",
      message: expect.stringContaining("not a regular file"),
    });
  });

  it("fails the upload, not silently short, when a file shrinks after it was opened", async () => {
    const bytes = await bigJpeg(pieceBytes);
    const path = await write("shrinks.jpg", bytes);
    const input = await openInput(path, "shrinks.jpg");
    await writeFile(path, bytes.subarray(0, pieceBytes));
    await expect(buffer(input.body())).rejects.toMatchObject({
      code: "E_BAD_INPUT",
      message: "shrinks.jpg shrank while it was being sent",
    });
  });
});

describe("an input replaced after the batch was planned (issue 22 §4)", () => {
  const message = expect.stringMatching(/^swap\.jpg changed during the batch: it was replaced \(by a symbolic link/);
  const replaced = { code: "E_BAD_INPUT", message };

  it("checkedFile refuses a path whose folder became a link elsewhere, though the file there is fine", async () => {
    await mkdir(join(dir, "swap-folder"));
    await mkdir(join(dir, "private"));
    const path = join(dir, "swap-folder", "swap.jpg");
    await writeFile(path, jpeg);
    await writeFile(join(dir, "private", "swap.jpg"), png);
    expect(checkedFile(path, "swap.jpg")).toMatchObject({ size: jpeg.length });
    await rename(join(dir, "swap-folder"), join(dir, "swap-folder.old"));
    await symlink(join(dir, "private"), join(dir, "swap-folder"));
    expect(checkedFile(path, "swap.jpg")).toMatchObject(replaced);
  });

  it("the upload and the second check refuse a link in the file's place, or another inode, same bytes", async () => {
    const path = join(dir, "swap.jpg");
    await writeFile(path, jpeg);
    const checked = checkedFile(path, "swap.jpg");
    if (checked instanceof Error) throw checked;
    await writeFile(join(dir, "secret.jpg"), png);
    // Moved aside, not removed: the file system cannot give its inode number to another file below.
    await rename(path, `${path}.checked`);
    await symlink(join(dir, "secret.jpg"), path);
    await expect(openInput(path, "swap.jpg", checked.identity)).rejects.toMatchObject(replaced);
    expect(checkedFile(path, "swap.jpg", checked.identity)).toMatchObject(replaced);
    await writeFile(`${path}.new`, jpeg);
    await rename(`${path}.new`, path);
    await expect(openInput(path, "swap.jpg", checked.identity)).rejects.toMatchObject(replaced);
    expect(checkedFile(path, "swap.jpg", checked.identity)).toMatchObject(replaced);
  });
});

describe("truncationOf: the whole-file scan", () => {
  /** A JPEG-looking file of `size` bytes (no 0xFF except where placed) with `markers` at their offsets. */
  function file(size: number, markers: Array<[number, Buffer]>): Buffer {
    const bytes = Buffer.alloc(size, 0x11);
    Buffer.from([0xff, 0xd8, 0xff, 0xe0]).copy(bytes, 0);
    for (const [at, marker] of markers) marker.copy(bytes, at);
    return bytes;
  }
  const SOS = Buffer.from([0xff, 0xda]);
  const EOI = Buffer.from([0xff, 0xd9]);
  /**
   * truncationOf over `bytes` as the checks call it (16 bytes first,
   * the rest through readAt), and the largest read it asked for.
   */
  function check(bytes: Buffer): { verdict: string | undefined; largestRead: number } {
    let largestRead = 0;
    const verdict = truncationOf(bytes.subarray(0, 16), bytes.length, (length, position) => {
      largestRead = Math.max(largestRead, length);
      return bytes.subarray(position, position + length);
    });
    return { verdict, largestRead };
  }

  it(
    "finds the scan and its end when each is split across two pieces, " +
      "in a file of several pieces, reading one piece at a time",
    () => {
      const size = 5 * scanPieceBytes;
      // SOS split by the first piece's end, EOI by the third's; a
      // trailer of ~2 MiB follows, so the 4 KiB tail does not settle it.
      const complete = file(size, [
        [scanPieceBytes - 1, SOS],
        [3 * scanPieceBytes - 1, EOI],
      ]);
      expect(check(complete)).toEqual({ verdict: undefined, largestRead: scanPieceBytes });
      // The same without its end, and with the end before the scan: both are cut short.
      expect(check(file(size, [[scanPieceBytes - 1, SOS]])).verdict).toBe(
        "the JPEG ends before its end-of-image marker",
      );
      expect(
        check(
          file(size, [
            [100, EOI],
            [scanPieceBytes - 1, SOS],
          ]),
        ).verdict,
      ).toBe("the JPEG ends before its end-of-image marker");
    },
  );

  it("finds a PNG's IEND split across two pieces", () => {
    const png = Buffer.alloc(3 * scanPieceBytes, 0x22);
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(png, 0);
    expect(check(png).verdict).toBe("the PNG ends before its IEND chunk");
    Buffer.from("IEND", "latin1").copy(png, 2 * scanPieceBytes - 2);
    expect(check(png)).toEqual({ verdict: undefined, largestRead: scanPieceBytes });
  });
});
