/**
 * Requests whose cost the input's size does not bound (issue 12, point 4) are refused before any
 * pixel work: the text watermark (dpi, font size, text, textwidth, the estimated render), the blur
 * (sigma, kernel × pixels) and pipelines whose steps multiply sizes. "Before any pixel work" is
 * read from the spawned backend's peak RSS (VmHWM), which rendering would have raised by hundreds of MB.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import sharp from "sharp";
import { startBackend, type RunningBackend } from "../../src/backend/server.js";
import { startTcpBackend, type TcpBackend } from "../helpers/tcp-backend.js";
import { call } from "./backend-http.js";

const lines = (n: number, line: string) => Array.from({ length: n }, (_, i) => `${line} ${i}`).join("\n");
const query = (entries: Record<string, string | number>) =>
  new URLSearchParams(Object.entries(entries).map(([k, v]): [string, string] => [k, String(v)])).toString();
const pipeline = (ops: unknown) => `/pipeline?operations=${encodeURIComponent(JSON.stringify(ops))}`;

describe("a spawned `aciimg backend` (default limits: 18 MP in, 72 MP out)", () => {
  const key = randomBytes(16).toString("hex");
  let child: TcpBackend["child"];
  let base: string;
  let tiny: Buffer;
  const post = (path: string) => call(base, path, { body: tiny, headers: { "API-Key": key } });
  /** The backend's peak resident memory so far, in MB. */
  const peakRssMB = (): number =>
    Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1]) / 1024;

  beforeAll(async () => {
    tiny = await sharp({ create: { width: 16, height: 16, channels: 3, background: "#808080" } })
      .jpeg()
      .toBuffer();
    ({ child, base } = await startTcpBackend(key, ["--concurrency", "1"]));
    // Load Pango, fontconfig and the encoders once, so the peak below measures only the requests.
    const warm = await post(`/watermark?${query({ text: "warm up", sigma: 1 })}`);
    expect(warm.status).toBe(200);
  });
  afterAll(async () => {
    if (child.exitCode !== null) return;
    const closed = new Promise((resolve) => child.once("close", resolve));
    child.kill("SIGTERM");
    await closed;
  });

  test(
    "the text watermark of issue 12 (60 lines, " +
      "dpi 1500, textwidth 16000, on a tiny JPEG) is 422 and the peak memory stays put",
    async () => {
      const before = peakRssMB();
      const res = await post(`/watermark?${query({ text: lines(60, "watermark"), dpi: 1500, textwidth: 16000 })}`);
      expect(res.json()).toEqual({ status: 422, message: "Watermark dpi is too big (limit 600)" });
      expect(peakRssMB() - before).toBeLessThan(64);
    },
  );

  test("a text within every parameter bound whose render would be 100+ MP is 422 before rendering", async () => {
    const before = peakRssMB();
    const res = await post(
      `/watermark?${query({ text: lines(6, "watermark"), font: "sans 200", dpi: 600, textwidth: 16000 })}`,
    );
    expect(res.json()).toEqual({ status: 422, message: "Watermark text is too big to render (limit 72 MP)" });
    expect(peakRssMB() - before).toBeLessThan(64);
  });

  test("a pipeline whose second step would pass the output limit is refused before its first step runs", async () => {
    const before = peakRssMB();
    const res = await post(
      pipeline([
        { operation: "enlarge", params: { width: 8000, height: 8000 } },
        { operation: "zoom", params: { factor: 1 } },
      ]),
    );
    expect(res.json()).toEqual({ status: 422, message: "Output image resolution is too big (limit 72 MP)" });
    expect(peakRssMB() - before).toBeLessThan(64);
  });
});

describe("an in-process backend with small limits (1 MP in, 4 MP out)", () => {
  const key = "costs-test-key";
  let backend: RunningBackend;
  let square: Buffer;
  const post = (path: string, body = square) => call(backend.url, path, { body, headers: { "API-Key": key } });
  const sizeOf = async (path: string): Promise<string> => {
    const res = await post(path);
    if (res.status !== 200) return `${res.status} ${res.bytes.toString()}`;
    const meta = await sharp(res.bytes).metadata();
    return `${meta.width}x${meta.height}`;
  };

  beforeAll(async () => {
    [backend, square] = await Promise.all([
      startBackend({ apiKey: key, maxResolutionMP: 1, maxOutputMP: 4, concurrency: 1 }),
      sharp({ create: { width: 1000, height: 1000, channels: 3, background: "#336699" } })
        .jpeg()
        .toBuffer(),
    ]);
  });
  afterAll(async () => backend.close());

  test("a text watermark whose estimated render passes the output limit is 422; an ordinary one works", async () => {
    const big = await post(
      `/watermark?${query({ text: lines(10, "watermark"), font: "sans 100", dpi: 300, textwidth: 5000 })}`,
    );
    expect(big.json()).toEqual({ status: 422, message: "Watermark text is too big to render (limit 4 MP)" });
    expect(await sizeOf(`/watermark?${query({ text: "© aciimg 2026", font: "sans bold 14", dpi: 300 })}`)).toBe(
      "1000x1000",
    );
    expect(await sizeOf(`/watermark?${query({ text: lines(3, "aciimg"), textwidth: 900, opacity: 0.5 })}`)).toBe(
      "1000x1000",
    );
  });

  test(
    "a blur whose kernel over the output is more than 200 taps × the output limit is 422, " +
      "naming the largest sigma",
    async () => {
      const res = await post(`/enlarge?${query({ width: 2000, height: 2000, sigma: 100 })}`);
      expect(res.json()).toEqual({
        status: 422,
        message: "Blur sigma is too big for the image size (limit 54.9 at 2000x2000)",
      });
      expect(await sizeOf(`/enlarge?${query({ width: 2000, height: 2000, sigma: 50 })}`)).toBe("2000x2000");
      expect(await sizeOf(`/blur?${query({ sigma: 100 })}`)).toBe("1000x1000");
    },
  );

  test("a pipeline is planned on the sizes its steps produce", async () => {
    const zoomed = await post(
      pipeline([
        { operation: "enlarge", params: { width: 2000, height: 2000 } },
        { operation: "zoom", params: { factor: 1 } },
      ]),
    );
    expect(zoomed.json()).toEqual({ status: 422, message: "Output image resolution is too big (limit 4 MP)" });
    const blurred = await post(
      pipeline([
        { operation: "enlarge", params: { width: 2000, height: 2000 } },
        { operation: "blur", params: { sigma: 100 } },
      ]),
    );
    expect(blurred.json()).toEqual({
      status: 422,
      message: "Blur sigma is too big for the image size (limit 54.9 at 2000x2000)",
    });
    expect(
      await sizeOf(
        pipeline([
          { operation: "resize", params: { width: 500 } },
          { operation: "zoom", params: { factor: 3 } },
        ]),
      ),
    ).toBe("2000x2000");
  });

  test("operations whose output the input bounds stay bounded whatever the parameters", async () => {
    expect(await sizeOf(`/fit?${query({ width: 1e9, height: 1e9 })}`)).toBe("1000x1000");
    expect(await sizeOf(`/resize?${query({ width: 1e9, height: 1e9 })}`)).toBe("1000x1000");
    expect(await sizeOf(`/rotate?${query({ rotate: 1e9 })}`)).toBe("1000x1000");
    expect(await sizeOf(`/extract?${query({ areawidth: 1e9, areaheight: 10 })}`)).toBe(
      '400 {"message":"Error while processing the image: extract_area: bad extract area","status":400}',
    );
    for (const path of [
      `/crop?${query({ width: 1e9, height: 10 })}`,
      `/resize?${query({ width: 1e9, height: 10 })}`,
      `/zoom?${query({ factor: 1e9 })}`,
      `/thumbnail?${query({ width: 1e9, height: 1e9 })}`,
      `/enlarge?${query({ width: 3000, height: 3000 })}`,
      `/smartcrop?${query({ width: 1e9, height: 10 })}`,
    ]) {
      expect(await sizeOf(path), path).toBe(
        '422 {"message":"Output image resolution is too big (limit 4 MP)","status":422}',
      );
    }
  });
});
