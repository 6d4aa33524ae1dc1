/**
 * How the built-in backend decodes: at the `failon` level a request asks for (damaged data refused
 * with the decoder's complaint, imaginary's leniency without it), libvips' complaints said once,
 * and animations: frames kept for WebP, counted against the limits before any decoding, and a
 * flattened one said so. A real backend on loopback, images made by sharp.
 */
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBackend, type RunningBackend } from "../../src/backend/server.js";
import { animatedGif, cutWithEndMarker, noisyJpeg, overwritten } from "../helpers/damaged.js";
import { call, type Reply } from "./backend-http.js";

const key = "decode-test-key";
let backend: RunningBackend;
let photo: Buffer;
let gif: Buffer;

beforeAll(async () => {
  backend = await startBackend({ apiKey: key });
  photo = await noisyJpeg(1000, 800);
  gif = await animatedGif(6, 120, 80);
});
afterAll(async () => {
  await backend?.close();
});

const post = (path: string, body: Buffer): Promise<Reply> =>
  call(backend.url, path, { body, headers: { "API-Key": key } });
const messageOf = (reply: Reply): string => (reply.json() as { message: string }).message;

describe("failon", () => {
  const damages = [
    ["5 KB overwritten", overwritten],
    ["cut short, with an end marker", cutWithEndMarker],
  ] as const;
  for (const [name, damage] of damages) {
    it(`refuses a JPEG ${name} at failon=warning with the decoder's complaint; decodes it without failon`, async () => {
      const damaged = damage(photo);
      const refused = await post("/resize?width=300&failon=warning", damaged);
      expect(refused.status).toBe(400);
      expect(messageOf(refused)).toBe(
        "Error while processing the image: damaged image data (failon=warning): " +
          "VipsJpeg: Corrupt JPEG data: premature end of data segment",
      );
      for (const lenient of ["/resize?width=300", "/resize?width=300&failon=none", "/resize?width=300&failon=error"]) {
        const reply = await post(lenient, damaged);
        expect(reply.status, lenient).toBe(200);
        expect(await sharp(reply.bytes).metadata()).toMatchObject({ width: 300, format: "jpeg" });
      }
    });
  }

  it("decodes an undamaged JPEG at every level", async () => {
    for (const level of ["none", "truncated", "error", "warning"]) {
      expect((await post(`/resize?width=300&failon=${level}`, photo)).status, level).toBe(200);
    }
  });

  it("refuses a damaged input in a pipeline at its first step", async () => {
    const steps = [
      { operation: "resize", params: { width: 200 } },
      { operation: "blur", params: { sigma: 1 } },
    ];
    const operations = encodeURIComponent(JSON.stringify(steps));
    const refused = await post(`/pipeline?operations=${operations}&failon=warning`, overwritten(photo));
    expect(refused.status).toBe(400);
    expect(messageOf(refused)).toMatch(
      /^Error while processing the image: damaged image data \(failon=warning\): VipsJpeg: /,
    );
  });

  it("refuses an unknown level as a bad parameter", async () => {
    const refused = await post("/resize?width=300&failon=strict", photo);
    expect(refused.status).toBe(400);
    expect(messageOf(refused)).toBe(
      'Error while processing parameters, error while processing parameter "failon" with value "strict", ' +
        "error: expected one of none, truncated, error, warning",
    );
  });
});

describe("libvips' complaints", () => {
  it("are said once each, not glued together as often as libvips repeats them", async () => {
    // A bogus quantisation table's length: libjpeg complains each time the file is opened.
    const plain = sharp({ create: { width: 400, height: 300, channels: 3, background: "#3060a0" } });
    const damaged = Buffer.from(await plain.jpeg().toBuffer());
    damaged[4] = 0xff;
    const refused = await post("/resize?width=100", damaged);
    expect(refused.status).toBe(400);
    const message = messageOf(refused);
    expect(message).toMatch(/^Error while processing the image: /);
    const complaints = message.replace(/^Error while processing the image: /, "").split("; ");
    expect(complaints.length).toBeGreaterThan(0);
    for (const complaint of complaints) {
      expect(complaint).not.toMatch(/\S(VipsJpeg|vips\w*):/); // two lines glued into one
      expect(message.split(complaint.replace(/^Input buffer has corrupt header: /, "")).length - 1, complaint).toBe(1);
    }
  });
});

describe("an animated GIF", () => {
  it("to WebP keeps every frame, resized frame by frame, with its timing", async () => {
    const reply = await post("/resize?width=60&type=webp", gif);
    expect(reply.status).toBe(200);
    const meta = await sharp(reply.bytes).metadata();
    expect(meta).toMatchObject({ format: "webp", pages: 6, width: 60, height: 40, delay: Array(6).fill(100) });
    expect(reply.headers).toMatchObject({ "x-aciimg-frames": "6", "image-width": "60", "image-height": "40" });
    // The sixth frame is the sixth frame's shade, not the first's.
    const frame6 = await sharp(reply.bytes, { page: 5 }).raw().toBuffer({ resolveWithObject: true });
    expect(Math.abs((frame6.data[3 * 30] ?? 0) - ((5 * 37) & 255))).toBeLessThan(12);
  });

  it("to PNG, which cannot animate, keeps the first frame and says so", async () => {
    const reply = await post("/resize?width=60&type=png", gif);
    expect(reply.status).toBe(200);
    expect(await sharp(reply.bytes).metadata()).toMatchObject({ format: "png", width: 60, height: 40 });
    expect(reply.headers["x-aciimg-flattened"]).toBe("6; PNG cannot animate");
  });

  it("with an operation not done frame by frame keeps the first frame and says which", async () => {
    const turned = await post("/rotate?rotate=90&type=webp", gif);
    expect(turned.status).toBe(200);
    expect((await sharp(turned.bytes).metadata()).pages ?? 1).toBe(1);
    expect(turned.headers["x-aciimg-flattened"]).toBe("6; a quarter turn is not done frame by frame");
    const blurred = await post("/blur?sigma=2&type=webp", gif);
    expect(blurred.headers["x-aciimg-flattened"]).toBe("6; a blur is not done frame by frame");
  });

  it("of 10,000 frames is refused undecoded when together over the input limit; to PNG it is flattened", async () => {
    const many = await animatedGif(10_000, 48, 48); // 23 MP together, over the default 18 MP
    expect((await sharp(many).metadata()).pages).toBe(10_000);
    const refused = await post("/resize?width=24&type=webp", many);
    expect(refused.status).toBe(422);
    expect(messageOf(refused)).toBe(
      "Animation is too big: 10000 frames of 48x48 are 23 MP (limit 18 MP for all frames)",
    );
    const flattened = await post("/resize?width=24&type=png", many);
    expect(flattened.status).toBe(200);
    expect(flattened.headers["x-aciimg-flattened"]).toBe("10000; PNG cannot animate");
  });
});
