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
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: ${disposition}\r\n` +
          `${part.type ? `Content-Type: ${part.type}\r\n` : ""}\r\n`,
      ),
    );
    chunks.push(Buffer.isBuffer(part.data) ? part.data : Buffer.from(part.data));
    chunks.push(Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

/** A stream that yields `bytes` in small chunks, like a socket. */
const streamOf = (bytes: Buffer) =>
  Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += 1000) yield bytes.subarray(i, i + 1000);
    })(),
  );

const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#c04020" } })
  .jpeg()
  .toBuffer();

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
      ok: false,
      status: 400,
      message: "Empty or unreadable image",
    });
  });

  it("takes the multipart field `file` and ignores other fields", async () => {
    const body = multipart([
      { name: "note", data: "hello" },
      { name: "file", filename: "a.jpg", type: "image/jpeg", data: jpeg },
    ]);
    const upload = await readUpload(streamOf(body), `multipart/form-data; boundary=${boundary}`, 1_000_000);
    expect(upload.ok && Buffer.from(upload.bytes).equals(jpeg)).toBe(true);
    expect(upload.ok && upload.contentType).toBe("image/jpeg");
  });

  it("answers imaginary's 400 when the multipart body has no `file` field", async () => {
    const body = multipart([{ name: "image", filename: "a.jpg", data: jpeg }]);
    await expect(readUpload(streamOf(body), `multipart/form-data; boundary=${boundary}`, 1_000_000)).resolves.toEqual({
      ok: false,
      status: 400,
      message: "http: no such file",
    });
  });

  it("answers imaginary's 400 when the multipart boundary is missing", async () => {
    await expect(readUpload(streamOf(jpeg), "multipart/form-data", 1_000_000)).resolves.toEqual({
      ok: false,
      status: 400,
      message: "no multipart boundary param in Content-Type",
    });
  });

  it("answers 413 when the multipart file crosses the limit", async () => {
    const body = multipart([{ name: "file", filename: "a.bin", data: Buffer.alloc(30_000, 7) }]);
    await expect(
      readUpload(streamOf(body), `multipart/form-data; boundary=${boundary}`, 10_000),
    ).resolves.toMatchObject({
      ok: false,
      status: 413,
    });
  });
});

describe("failureReply", () => {
  const context = (lines: string[] = []) => ({
    retryAfterSeconds: 30,
    timedOut: false,
    log: (line: string) => lines.push(line),
  });
  const bodyOf = (reply: { body: unknown }) => JSON.parse(String(reply.body)) as { message: string; status: number };

  it("passes imaginary's status and message through", () => {
    const error = new AciimgError("E_IMAGE", "/resize: Image resolution is too big", {
      detail: { status: 422, message: "Image resolution is too big" },
    });
    const reply = failureReply(error, context());
    expect(reply.status).toBe(422);
    expect(bodyOf(reply)).toEqual({ message: "Image resolution is too big", status: 422 });
  });

  it("never passes the backend's 401 on as the client's fault", () => {
    const lines: string[] = [];
    const error = new AciimgError("E_IMAGE", "/resize: Invalid or missing API key", {
      detail: { status: 401, message: "Invalid or missing API key" },
    });
    expect(failureReply(error, context(lines)).status).toBe(502);
    expect(lines.join("\n")).toContain("rejected");
  });

  it("turns a provisioning failure into 503 with Retry-After and keeps the detail in the log only", () => {
    const lines: string[] = [];
    const error = new AciimgError("E_CAPACITY", "westeurope has no capacity for subscription 1234 right now");
    const reply = failureReply(error, context(lines));
    expect(reply.status).toBe(503);
    expect(reply.headers["retry-after"]).toBe("30");
    expect(bodyOf(reply)).toEqual({ message: expect.stringContaining("E_CAPACITY"), status: 503 });
    expect(String(reply.body)).not.toContain("1234");
    expect(lines.join("\n")).toContain("subscription 1234");
  });

  it("answers a request timeout with 504 naming the limit, without Retry-After (a retry renders it again)", () => {
    const lines: string[] = [];
    const error = new AciimgError(
      "E_REQUEST_TIMEOUT",
      "the backend at https://20.1.2.3:9000 gave no answer to /resize within 2m",
      {
        detail: { code: "UND_ERR_HEADERS_TIMEOUT", timeoutMs: 120_000 },
      },
    );
    const reply = failureReply(error, context(lines));
    expect(reply.status).toBe(504);
    expect(reply.headers["retry-after"]).toBeUndefined();
    expect(bodyOf(reply)).toEqual({
      message: expect.stringContaining("no answer within 2m (E_REQUEST_TIMEOUT)"),
      status: 504,
    });
    expect(String(reply.body)).not.toContain("20.1.2.3");
    expect(lines.join("\n")).toContain("20.1.2.3");
  });

  it("answers 503 when our own wait bound fired, whatever the engine threw", () => {
    const reply = failureReply(new AciimgError("E_ABORTED", "cancelled"), { ...context(), timedOut: true });
    expect(reply.status).toBe(503);
    expect(bodyOf(reply).message).toMatch(/Timed out/);
  });

  it("answers 500 without internals for an unexpected error", () => {
    const reply = failureReply(new TypeError("x is undefined at /secret/path"), context());
    expect(reply.status).toBe(500);
    expect(String(reply.body)).not.toContain("/secret/path");
  });
});

describe("startRelay (streamed uploads of known length)", () => {
  const read = async (stream: Readable) => {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };

  it("resolves with the first bytes before the upload ends, and each open() replays all of it", async () => {
    const { PassThrough } = await import("node:stream");
    const { startRelay } = await import("../../src/http/relay.js");
    const source = new PassThrough();
    const whole = Buffer.concat([jpeg, Buffer.alloc(20_000, 9)]);
    source.write(whole.subarray(0, 5000));
    const relay = await startRelay(source, whole.length);
    expect(relay.ok).toBe(true);
    if (!relay.ok) return;
    expect(Buffer.from(relay.upload.prefix).equals(whole.subarray(0, 4096))).toBe(true);
    const first = relay.upload.open();
    const firstBytes = read(first);
    source.end(whole.subarray(5000));
    expect((await firstBytes).equals(whole)).toBe(true);
    // The engine's retry opens it again: the same bytes.
    expect((await read(relay.upload.open())).equals(whole)).toBe(true);
  });

  it("answers imaginary's 400 for an upload that ends empty", async () => {
    const { startRelay } = await import("../../src/http/relay.js");
    await expect(startRelay(Readable.from([]), 10)).resolves.toEqual({
      ok: false,
      status: 400,
      message: "Empty or unreadable image",
    });
  });

  it("fails the open stream when the client goes away mid-upload", async () => {
    const { PassThrough } = await import("node:stream");
    const { startRelay } = await import("../../src/http/relay.js");
    const source = new PassThrough();
    source.write(Buffer.alloc(5000, 1));
    const relay = await startRelay(source, 10_000);
    if (!relay.ok) throw new Error("expected a relay");
    const stream = relay.upload.open();
    const result = read(stream);
    source.destroy();
    await expect(result).rejects.toThrow(/closed the connection/);
  });

  it("after discard keeps nothing more and drains the rest of a refused upload", async () => {
    const { PassThrough } = await import("node:stream");
    const { startRelay } = await import("../../src/http/relay.js");
    const source = new PassThrough();
    source.write(Buffer.from("1".repeat(5000)));
    const relay = await startRelay(source, 50_000);
    if (!relay.ok) throw new Error("expected a relay");
    relay.upload.discard();
    const drained = new Promise<void>((resolve) => source.once("end", () => resolve()));
    source.end(Buffer.alloc(45_000, 1));
    await drained;
    expect(await read(relay.upload.open())).toHaveLength(0);
  });
});
