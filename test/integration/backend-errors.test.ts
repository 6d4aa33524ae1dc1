/**
 * The built-in backend answers imaginary's error rows (docs/reference/imaginary-api.md §1.8) with the same status
 * and message, in imaginary's check order (§1.3), plus our documented limits (413, output cap).
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import sharp from "sharp";
import { operationNames } from "../../src/protocol/operations.js";
import { startBackend, type RunningBackend } from "../../src/backend/server.js";
import { loadFixtures, makeSolidPng, type Fixtures } from "../helpers/images.js";
import { call, multipart } from "./backend-http.js";

const key = "errors-test-key";
const auth = { "API-Key": key };
let backend: RunningBackend;
let fx: Fixtures;
const post = (path: string, body: Buffer | string, headers: Record<string, string> = {}) =>
  call(backend.url, path, { body, headers: { ...auth, ...headers } });
const imaginaryError = (status: number, message: string) => ({ status, message });

beforeAll(async () => {
  [backend, fx] = await Promise.all([startBackend({ apiKey: key, maxUploadBytes: 2_000_000 }), loadFixtures()]);
});
afterAll(async () => backend.close());

const imageRoutes = operationNames.map((n) => `/${n}`);

describe("methods, routes and auth", () => {
  test.each(["PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"])(
    "%s is 405 with imaginary's message on every route",
    async (method) => {
      for (const path of ["/", "/health", "/resize", "/nope"]) {
        const res = await call(backend.url, path, { method, headers: auth });
        expect(res.status).toBe(405);
        if (method !== "HEAD")
          expect(res.json()).toEqual(
            imaginaryError(
              405,
              "HTTP method not allowed. Try with a POST or GET method (-enable-url-source flag must be defined)",
            ),
          );
      }
    },
  );

  test("GET on every image route is 405: URL sources are off", async () => {
    for (const path of imageRoutes) {
      const res = await call(backend.url, `${path}?url=http://127.0.0.1:1/x.jpg`, { method: "GET", headers: auth });
      expect(res.json()).toEqual(
        imaginaryError(
          405,
          "GET method not allowed. Make sure remote URL source is enabled by using the flag: -enable-url-source",
        ),
      );
    }
  });

  test("every route needs the key, by header or ?key=, and refuses a wrong one", async () => {
    for (const path of ["/", "/health", ...imageRoutes, "/unknown"]) {
      const method = path === "/" || path === "/health" ? "GET" : "POST";
      for (const headers of [
        {},
        { "API-Key": "wrong" },
        { "API-Key": `${key}x` },
        { "API-Key": key.slice(0, -1) },
      ] as Array<Record<string, string>>) {
        const res = await call(backend.url, path, {
          method,
          headers,
          body: method === "POST" ? fx.large.buffer : undefined,
        });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.json()).toEqual(imaginaryError(401, "Invalid or missing API key"));
      }
      const viaQuery = await call(backend.url, `${path}?key=${key}`, {
        method,
        body: method === "POST" ? fx.large.buffer : undefined,
      });
      expect(viaQuery.status, path).not.toBe(401);
    }
  });

  test("/ answers versions and /health answers imaginary's fields", async () => {
    const index = await call(backend.url, "/", { method: "GET", headers: auth });
    expect(Object.keys(index.json() as object).sort()).toEqual(["bimg", "imaginary", "libvips"]);
    const health = (await call(backend.url, "/health", { method: "GET", headers: auth })).json() as Record<
      string,
      number
    >;
    expect(Object.keys(health).sort()).toEqual([
      "OSMemoryObtained",
      "allocatedMemory",
      "completedGCCycles",
      "cpus",
      "goroutines",
      "heapInUse",
      "maxHeapUsage",
      "objectsInUse",
      "totalAllocatedMemory",
      "uptime",
    ]);
    expect(health.OSMemoryObtained).toBeGreaterThan(10);
    expect(health.cpus).toBeGreaterThanOrEqual(1);
  });

  test("unknown paths and trailing slashes are 404 JSON", async () => {
    for (const path of ["/nope", "/resize/", "/form"]) {
      expect((await post(path, fx.large.buffer)).json()).toEqual(imaginaryError(404, "Not found"));
    }
  });

  test("/watermarkimage is not served (SSRF): 501", async () => {
    expect((await post("/watermarkimage?image=http://127.0.0.1:1/x.png", fx.large.buffer)).json()).toEqual(
      imaginaryError(501, "Not implemented endpoint"),
    );
  });
});

describe("bodies", () => {
  test("empty body and empty multipart file are 400 Empty or unreadable image", async () => {
    expect((await post("/resize?width=10", "")).json()).toEqual(imaginaryError(400, "Empty or unreadable image"));
    const form = multipart([{ name: "file", data: Buffer.alloc(0), filename: "a.jpg" }]);
    expect((await post("/resize?width=10", form.body, { "Content-Type": form.contentType })).json()).toEqual(
      imaginaryError(400, "Empty or unreadable image"),
    );
  });

  test("multipart field `file` is the image; other fields are ignored", async () => {
    const form = multipart([
      { name: "other", data: "x" },
      { name: "file", data: fx.large.buffer, filename: "large.jpg" },
    ]);
    const res = await post("/resize?width=300", form.body, { "Content-Type": form.contentType });
    expect(res.status).toBe(200);
    expect(res.headers["image-width"]).toBe("300");
  });

  test("multipart without `file`, without boundary, or truncated has imaginary's messages", async () => {
    const noFile = multipart([{ name: "image", data: fx.large.buffer, filename: "a.jpg" }]);
    expect((await post("/resize?width=10", noFile.body, { "Content-Type": noFile.contentType })).json()).toEqual(
      imaginaryError(400, "http: no such file"),
    );
    expect((await post("/resize?width=10", noFile.body, { "Content-Type": "multipart/form-data" })).json()).toEqual(
      imaginaryError(400, "no multipart boundary param in Content-Type"),
    );
    const truncated = noFile.body.subarray(0, 120);
    expect((await post("/resize?width=10", truncated, { "Content-Type": noFile.contentType })).json()).toEqual(
      imaginaryError(400, "multipart: NextPart: EOF"),
    );
  });

  test("non-images are 406 whatever the Content-Type, before any param check", async () => {
    for (const body of [fx.notAnImage, Buffer.from('{"a":1}'), Buffer.from("%PDF-1.4\n")]) {
      const res = await post("/resize?width=abc&type=nope", body, { "Content-Type": "image/jpeg" });
      expect(res.json()).toEqual(imaginaryError(406, "Unsupported media type"));
    }
  });

  test("a declared body over the limit is 413 without being read", async () => {
    const big = Buffer.alloc(2_000_001, 1);
    const res = await post("/resize?width=10", big);
    expect(res.status).toBe(413);
    expect(res.json()).toEqual(imaginaryError(413, "Request body too large: the limit is 2000000 bytes"));
  });
});

describe("params", () => {
  test("a bad number is 400 with Go's strconv message", async () => {
    expect((await post("/resize?width=abc", fx.large.buffer)).json()).toEqual(
      imaginaryError(
        400,
        'Error while processing parameters, error while processing parameter "width" with value "abc", ' +
          'error: strconv.ParseFloat: parsing "abc": invalid syntax',
      ),
    );
  });

  test("a bad bool is 400 unsupported value", async () => {
    expect((await post("/resize?width=10&force=yes", fx.large.buffer)).json()).toEqual(
      imaginaryError(
        400,
        "Error while processing parameters, " +
          'error while processing parameter "force" with value "yes", error: unsupported value',
      ),
    );
  });

  test("ints are |float| rounded and the first repeated value wins", async () => {
    expect((await post("/resize?width=-300", fx.large.buffer)).headers["image-width"]).toBe("300");
    expect((await post("/resize?width=99.6", fx.large.buffer)).headers["image-width"]).toBe("100");
    expect((await post("/resize?width=120&width=500", fx.large.buffer)).headers["image-width"]).toBe("120");
  });

  test("an unknown type is 400 Unsupported output image format; gif/svg/pdf fail in the op", async () => {
    // avif, imaginary's 400 too, is written by this backend (backend-encode.test.ts).
    for (const type of ["heif", "jpg", "AUTO"]) {
      expect((await post(`/convert?type=${type}`, fx.large.buffer)).json()).toEqual(
        imaginaryError(400, "Unsupported output image format"),
      );
    }
    for (const type of ["gif", "svg", "pdf"]) {
      expect((await post(`/convert?type=${type}`, fx.large.buffer)).json()).toEqual(
        imaginaryError(400, "Error while processing the image: Unsupported image output type"),
      );
    }
  });

  test.each([
    ["/resize", "Missing required param: height or width"],
    ["/crop", "Missing required param: height or width"],
    ["/smartcrop", "Missing required param: height or width"],
    ["/fit?width=10", "Missing required params: height, width"],
    ["/enlarge?height=10", "Missing required params: height, width"],
    ["/extract?areawidth=10", "Missing required params: areawidth or areaheight"],
    ["/rotate", "Missing required param: rotate"],
    ["/thumbnail", "Missing required params: width or height"],
    ["/zoom", "Missing required param: factor"],
    ["/zoom?factor=1&top=10", "Missing required params: areawidth, areaheight"],
    ["/convert", "Missing required param: type"],
    ["/watermark", "Missing required param: text"],
    ["/blur", "Missing required param: sigma or minampl"],
  ])("%s → %s", async (path, message) => {
    expect((await post(path, fx.large.buffer)).json()).toEqual(
      imaginaryError(400, `Error while processing the image: ${message}`),
    );
  });

  test("a truncated JPEG is still processed, as libvips is lenient (§1.8 notes)", async () => {
    const cut = fx.large.buffer.subarray(0, Math.floor(fx.large.buffer.length * 0.6));
    const res = await post("/resize?width=100", cut);
    expect(res.status).toBe(200);
    expect(res.headers["image-width"]).toBe("100");
  });

  test("an extract outside the image is 400 bad extract area", async () => {
    expect((await post("/extract?top=1000&left=1800&areawidth=200&areaheight=200", fx.large.buffer)).json()).toEqual(
      imaginaryError(400, "Error while processing the image: extract_area: bad extract area"),
    );
  });
});

describe("type=auto", () => {
  test.each([
    ["", "image/jpeg"],
    ["image/webp,*/*", "image/webp"],
    ["image/png,*/*", "image/png"],
    ["image/webp;q=0.8,image/jpeg", "image/webp"],
    ["image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "image/webp"],
  ])("Accept %j → %s with Vary: Accept", async (accept, mime) => {
    const res = await post("/crop?width=100&type=auto", fx.large.buffer, accept ? { Accept: accept } : {});
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe(mime);
    expect(res.headers.vary).toBe("Accept");
  });

  test("convert with type=auto and no match is Missing required param: type, with Vary", async () => {
    const res = await post("/convert?type=auto", fx.large.buffer, { Accept: "text/html" });
    expect(res.json()).toEqual(imaginaryError(400, "Error while processing the image: Missing required param: type"));
    expect(res.headers.vary).toBe("Accept");
  });
});

describe("limits", () => {
  test("input over 18 MP is 422; 4243x4242 is accepted", async () => {
    const [over, under] = await Promise.all([makeSolidPng(5000, 4000), makeSolidPng(4243, 4242)]);
    expect((await post("/resize?width=10", over)).json()).toEqual(imaginaryError(422, "Image resolution is too big"));
    const ok = await post("/thumbnail?width=10", under);
    expect(ok.status).toBe(200);
  });

  test("enlarge, zoom and huge sizes cannot allocate past the output cap (72 MP by default): 422", async () => {
    for (const path of [
      "/enlarge?width=50000&height=50000",
      "/zoom?factor=10",
      "/thumbnail?width=20000&height=20000&force=true",
      "/crop?width=1000000000&height=10",
      "/smartcrop?width=1000000000&height=10",
      "/resize?width=1000000000&height=10",
      "/pipeline?operations=" +
        encodeURIComponent(
          '[{"operation":"zoom","params":{"factor":3}},' + '{"operation":"zoom","params":{"factor":3}}]',
        ),
    ]) {
      const res = await post(path, fx.large.buffer);
      expect(res.status, path).toBe(422);
      expect((res.json() as { message: string }).message).toBe("Output image resolution is too big (limit 72 MP)");
    }
  });
});

describe("costly parameters no input size bounds (issue 12): 422 before any work", () => {
  test.each([
    ["dpi 601", "/watermark?text=x&dpi=601", "Watermark dpi is too big (limit 600)"],
    ["font sans 201", "/watermark?text=x&font=sans%20201", "Watermark font size is too big (limit 200)"],
    ["textwidth 16385", "/watermark?text=x&textwidth=16385", "Watermark text width is too big (limit 16384 px)"],
    ["text of 1025 bytes", `/watermark?text=${"x".repeat(1025)}`, "Watermark text is too long (limit 1024 bytes)"],
    ["blur sigma 1000", "/blur?sigma=1000", "Blur sigma is too big (limit 100)"],
    ["resize with sigma 101", "/resize?width=300&sigma=101", "Blur sigma is too big (limit 100)"],
    [
      "a pipeline watermark at dpi 1500",
      `/pipeline?operations=${encodeURIComponent('[{"operation":"watermark","params":{"text":"x","dpi":1500}}]')}`,
      "Watermark dpi is too big (limit 600)",
    ],
  ])("%s → 422", async (_name, path, message) => {
    expect((await post(path, fx.large.buffer)).json()).toEqual(imaginaryError(422, message));
  });

  test("imaginary's own refusals come first; ordinary values work", async () => {
    expect((await post("/blur?sigma=1000", fx.gif.buffer)).json()).toEqual(
      imaginaryError(400, "Error while processing the image: Unsupported image output type"),
    );
    for (const path of [
      "/watermark?text=%C2%A9%20aciimg&font=sans%20bold%2014&dpi=300",
      "/blur?sigma=100",
      "/blur?sigma=5&minampl=0.01",
    ]) {
      const res = await post(path, fx.large.buffer);
      expect(res.status, path).toBe(200);
      expect([res.headers["image-width"], res.headers["image-height"]], path).toEqual(["1920", "1080"]);
    }
  });
});

describe("GIF and SVG input", () => {
  test("need an output type, as in imaginary", async () => {
    for (const input of [fx.gif, fx.svg]) {
      expect((await post("/resize?width=50", input.buffer)).json()).toEqual(
        imaginaryError(400, "Error while processing the image: Unsupported image output type"),
      );
      const res = await post("/resize?width=50&type=png", input.buffer);
      expect(res.status).toBe(200);
      const meta = await sharp(res.bytes).metadata();
      expect([meta.format, meta.width]).toEqual(["png", 50]);
    }
  });

  test("info works on GIF and SVG", async () => {
    expect((await post("/info", fx.gif.buffer)).json()).toMatchObject({ width: 200, height: 100, type: "gif" });
    expect((await post("/info", fx.svg.buffer)).json()).toMatchObject({ width: 172, height: 42, type: "svg" });
  });
});
