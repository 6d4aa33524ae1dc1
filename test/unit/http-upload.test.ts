import { Readable } from "node:stream";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { AciimgError } from "../../src/errors.js";
import { failureReply } from "../../src/http/replies.js";
import { readUpload } from "../../src/http/upload.js";

const boundary = "----aciimgtest";
function multipart(parts: Array<{ name: string; filename?: string; type?: string; data: Buffer | string }>): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename ? `; filename="${part.filename}"` : ""}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${part.type ? `Content-Type: ${part.type}\r\n` : ""}\r\n`));
    chunks.push(Buffer.isBuffer(part.data) ? part.data : Buffer.from(part.data));
    chunks.push(Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

/** A stream that yields `bytes` in small chunks, like a socket. */
const streamOf = (bytes: Buffer) => Readable.from((function* () {
  for (let i = 0; i < bytes.length; i += 1000) yield bytes.subarray(i, i + 1000);
})());

const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#c04020" } }).jpeg().toBuffer();

describe("readUpload", () => {
  it("returns the raw body's bytes", async () => {
    const upload = await readUpload(streamOf(jpeg), "image/jpeg", 1_000_000);
    expect(upload).toMatchObject({ ok: true });
    expect(upload.ok && Buffer.from(upload.bytes).equals(jpeg)).toBe(true);
  });

  it("answers 413 once the raw body crosses the limit, without reading the rest", async () => {
    const big = Buffer.alloc(50_000, 1);
    const stream = streamOf(big);
    let delivered = 0;
    stream.on("data", (chunk: Buffer) => (delivered += chunk.length));
    const upload = await readUpload(stream, undefined, 10_000);
    expect(upload).toMatchObject({ ok: false, status: 413 });
    expect(delivered).toBeLessThan(big.length);
  });

  it("rejects an empty body with imaginary's message", async () => {
    await expect(readUpload(streamOf(Buffer.alloc(0)), undefined, 100)).resolves.toEqual({
      ok: false, status: 400, message: "Empty or unreadable image",
    });
  });

  it("takes the multipart field `file` and ignores other fields", async () => {
    const body = multipart([{ name: "note", data: "hello" }, { name: "file", filename: "a.jpg", type: "image/jpeg", data: jpeg }]);
    const upload = await readUpload(streamOf(body), `multipart/form-data; boundary=${boundary}`, 1_000_000);
    expect(upload.ok && Buffer.from(upload.bytes).equals(jpeg)).toBe(true);
    expect(upload.ok && upload.contentType).toBe("image/jpeg");
  });

  it("answers imaginary's 400 when the multipart body has no `file` field", async () => {
    const body = multipart([{ name: "image", filename: "a.jpg", data: jpeg }]);
    await expect(readUpload(streamOf(body), `multipart/form-data; boundary=${boundary}`, 1_000_000)).resolves.toEqual({
      ok: false, status: 400, message: "http: no such file",
    });
  });

  it("answers imaginary's 400 when the multipart boundary is missing", async () => {
    await expect(readUpload(streamOf(jpeg), "multipart/form-data", 1_000_000)).resolves.toEqual({
      ok: false, status: 400, message: "no multipart boundary param in Content-Type",
    });
  });

  it("answers 413 when the multipart file crosses the limit", async () => {
    const body = multipart([{ name: "file", filename: "a.bin", data: Buffer.alloc(30_000, 7) }]);
    await expect(readUpload(streamOf(body), `multipart/form-data; boundary=${boundary}`, 10_000)).resolves.toMatchObject({
      ok: false, status: 413,
    });
  });
});
