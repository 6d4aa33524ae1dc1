/**
 * The built-in backend's local file source, imaginary's -mount (docs/reference/imaginary-api.md §1.2, §1.8,
 * §2.3): GET /<op>?file=… with imaginary's statuses and messages, and a stricter path check
 * (symlinks and sibling directories sharing the root's name prefix are refused; imaginary serves
 * both). Files are real, made by sharp at imaginary's fixture sizes (§5.1).
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startBackend, type RunningBackend } from "../../src/backend/server.js";
import { fileIdentityOf } from "../../src/protocol/file-identity.js";
import { operationNames } from "../../src/protocol/operations.js";
import { loadFixtures, makeSolidPng, type Fixtures } from "../helpers/images.js";
import { call } from "./backend-http.js";

const key = "mount-test-key";
const auth = { "API-Key": key };
const maxUploadBytes = 3_000_000;
const imaginaryError = (status: number, message: string) => ({ status, message });
const invalidFilePath = imaginaryError(400, "Invalid file path");

let base: string;
let mount: string;
let fx: Fixtures;
let mounted: RunningBackend;
let unmounted: RunningBackend;
const get = (path: string, headers: Record<string, string> = auth) =>
  call(mounted.url, path, { method: "GET", headers });

beforeAll(async () => {
  fx = await loadFixtures();
  base = await mkdtemp(join(tmpdir(), "aciimg-mount-"));
  // The reference's layout: the mount `fixtures`, a sibling `fixtures2` sharing its name as a
  // prefix (imaginary serves ../fixtures2/secret.jpg), and an unrelated directory `outside`.
  mount = join(base, "fixtures");
  await Promise.all(
    ["fixtures/nested/deeper", "fixtures2", "outside"].map((dir) => mkdir(join(base, dir), { recursive: true })),
  );
  await Promise.all([
    writeFile(join(mount, "large.jpg"), fx.large.buffer),
    writeFile(join(mount, "nested/deeper/imaginary.jpg"), fx.imaginary.buffer),
    writeFile(join(mount, "1024bytes"), fx.notAnImage),
    writeFile(join(mount, "empty.jpg"), Buffer.alloc(0)),
    writeFile(join(mount, "over-size.jpg"), Buffer.concat([fx.large.buffer, Buffer.alloc(maxUploadBytes)])),
    writeFile(join(mount, "5000x4000.png"), await makeSolidPng(5000, 4000)),
    writeFile(join(base, "fixtures2/secret.jpg"), fx.png.buffer),
    writeFile(join(base, "outside/secret.jpg"), fx.png.buffer),
    symlink("../outside/secret.jpg", join(mount, "escape.jpg")),
    symlink("../outside", join(mount, "escape-dir")),
    symlink("nested/deeper/imaginary.jpg", join(mount, "inside-link.jpg")),
  ]);
  execFileSync("mkfifo", [join(mount, "fifo.jpg")]);
  [mounted, unmounted] = await Promise.all([
    startBackend({ apiKey: key, mount, maxUploadBytes, cpus: 1 }),
    startBackend({ apiKey: key, cpus: 1 }),
  ]);
});
afterAll(async () => {
  await Promise.all([mounted?.close(), unmounted?.close()]);
  await rm(base, { recursive: true, force: true });
});

async function sizeOf(bytes: Buffer): Promise<{ width?: number; height?: number; format?: string }> {
  const { width, height, format } = await sharp(bytes).metadata();
  return { width, height, format };
}

describe("files under the mount", () => {
  test("resize?width=200&height=200&file=large.jpg is 200×200, as imaginary's TestMountDirectory", async () => {
    const res = await get("/resize?width=200&height=200&file=large.jpg");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("image/jpeg");
    expect(await sizeOf(res.bytes)).toEqual({ width: 200, height: 200, format: "jpeg" });
  });

  test("a nested path, plain, URL-encoded and double-encoded (file is unescaped twice, as in imaginary)", async () => {
    for (const file of [
      "nested/deeper/imaginary.jpg",
      "nested%2Fdeeper%2Fimaginary.jpg",
      "nested%252Fdeeper%252Fimaginary.jpg",
      "nested/../nested/deeper/imaginary.jpg",
    ]) {
      const res = await get(`/info?file=${file}`);
      expect(res.status, file).toBe(200);
      expect(res.json(), file).toMatchObject({ width: 550, height: 740, type: "jpeg" });
    }
  });

  test("a symlink inside the mount to a file inside it is served", async () => {
    const res = await get("/info?file=inside-link.jpg");
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ width: 550, height: 740 });
  });

  test("every image route imaginary serves by GET reads the file", async () => {
    const queries: Record<string, string> = {
      resize: "width=100",
      fit: "width=100&height=100",
      enlarge: "width=2000&height=1200",
      extract: "top=10&left=10&areawidth=50&areaheight=40",
      crop: "width=100",
      smartcrop: "width=100&height=100",
      rotate: "rotate=90",
      autorotate: "",
      flip: "",
      flop: "",
      thumbnail: "width=100",
      zoom: "factor=1",
      convert: "type=png",
      watermark: "text=hi",
      info: "",
      blur: "sigma=2",
      pipeline:
        "operations=" +
        encodeURIComponent(JSON.stringify([{ operation: "crop", params: { width: 300, height: 260 } }])),
    };
    for (const op of operationNames.filter((name) => name !== "watermarkimage")) {
      const res = await get(`/${op}?file=large.jpg&${queries[op] ?? ""}`);
      expect(res.status, `${op}: ${res.bytes.toString().slice(0, 200)}`).toBe(200);
    }
    const refused = await get("/watermarkimage?file=large.jpg&image=http://127.0.0.1:1/x.png");
    expect(refused.json()).toEqual(imaginaryError(501, "Not implemented endpoint"));
  });

  test("file in a pipeline: crop 300×260 then convert to webp, as imaginary's pipeline test", async () => {
    const operations = [
      { operation: "crop", params: { width: 300, height: 260 } },
      { operation: "convert", params: { type: "webp" } },
    ];
    const res = await get(`/pipeline?file=large.jpg&operations=${encodeURIComponent(JSON.stringify(operations))}`);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("image/webp");
    expect(await sizeOf(res.bytes)).toEqual({ width: 300, height: 260, format: "webp" });
  });
});

describe("files refused: imaginary's 400 Invalid file path", () => {
  test("a file outside the root through .., plain, URL-encoded and double-encoded", async () => {
    for (const file of [
      "../outside/secret.jpg",
      "nested/../../outside/secret.jpg",
      "%2e%2e%2foutside%2fsecret.jpg",
      "%252e%252e%252foutside%252fsecret.jpg",
      "..%252f..%252f..%252f..%252f..%252fetc%252fpasswd",
    ]) {
      const res = await get(`/resize?width=100&file=${file}`);
      expect(res.json(), file).toEqual(invalidFilePath);
    }
  });

  test("an absolute path is taken under the root, as path.Join does: missing there", async () => {
    expect((await get("/resize?width=100&file=/etc/passwd")).json()).toEqual(invalidFilePath);
    expect(
      (await get(`/resize?width=100&file=${encodeURIComponent(join(base, "outside/secret.jpg"))}`)).json(),
    ).toEqual(invalidFilePath);
  });

  test(
    "a symlink in the mount pointing outside it, " + "to a file or through a directory (imaginary follows both)",
    async () => {
      expect((await get("/resize?width=100&file=escape.jpg")).json()).toEqual(invalidFilePath);
      expect((await get("/resize?width=100&file=escape-dir/secret.jpg")).json()).toEqual(invalidFilePath);
    },
  );

  test(
    "a sibling directory whose name starts with the root's: " + "../fixtures2/secret.jpg (imaginary serves it)",
    async () => {
      expect((await get("/resize?width=100&file=../fixtures2/secret.jpg")).json()).toEqual(invalidFilePath);
    },
  );

  test("a missing file, a directory and a FIFO (never opened for reading, so no hang)", async () => {
    for (const file of ["missing.jpg", "nested", "nested/deeper/", "fifo.jpg"]) {
      expect((await get(`/resize?width=100&file=${file}`)).json(), file).toEqual(invalidFilePath);
    }
  });
});

describe("X-Aciimg-File-Identity: the file the client checked, or 412 (issue 22 §4)", () => {
  const identityOf = async (path: string): Promise<string> => fileIdentityOf(await stat(path, { bigint: true }));
  const withIdentity = (identity: string) => ({ ...auth, "X-Aciimg-File-Identity": identity });
  const changed = imaginaryError(412, "File changed: it is not the file the client checked (x-aciimg-file-identity)");

  test("the file of that device and inode is read, and the header comes back with the answer", async () => {
    const identity = await identityOf(join(mount, "large.jpg"));
    const res = await get("/resize?width=100&file=large.jpg", withIdentity(identity));
    expect(res.status).toBe(200);
    expect(res.headers["x-aciimg-file-identity"]).toBe(identity);
    expect((await sizeOf(res.bytes)).width).toBe(100);
  });

  // Without the header, a link inside the mount is served as before.
  test("a link in the file's place is not followed, even into the mount; another inode is not read", async () => {
    const target = join(mount, "nested/deeper/imaginary.jpg");
    // The link's target is the very inode named: still refused, since the client sent a path it resolved.
    for (const identity of [await identityOf(target), await identityOf(join(mount, "large.jpg"))]) {
      const res = await get("/info?file=inside-link.jpg", withIdentity(identity));
      expect({ status: res.status, ...(res.json() as object) }).toEqual(changed);
      expect(res.headers["x-aciimg-file-identity"]).toBeUndefined();
    }
    const otherInode = withIdentity(await identityOf(join(mount, "large.jpg")));
    expect((await get("/info?file=nested/deeper/imaginary.jpg", otherInode)).status).toBe(412);
    expect((await get("/info?file=inside-link.jpg")).status).toBe(200);
  });
});

describe("the file's bytes go through the checks a body does", () => {
  test("a non-image is 406 Unsupported media type, the same answer as when it is POSTed", async () => {
    const viaFile = await get("/resize?width=100&file=1024bytes");
    const viaBody = await call(mounted.url, "/resize?width=100", { body: fx.notAnImage, headers: auth });
    expect(viaFile.json()).toEqual(imaginaryError(406, "Unsupported media type"));
    expect(viaBody.json()).toEqual(viaFile.json());
  });

  test("an empty file is 400 Empty or unreadable image", async () => {
    expect((await get("/resize?width=100&file=empty.jpg")).json()).toEqual(
      imaginaryError(400, "Empty or unreadable image"),
    );
  });

  test("a file over the upload limit is 413, a resolution over the limit 422", async () => {
    expect((await get("/resize?width=100&file=over-size.jpg")).json()).toEqual(
      imaginaryError(413, `File too large: the limit is ${maxUploadBytes} bytes`),
    );
    expect((await get("/resize?width=100&file=5000x4000.png")).json()).toEqual(
      imaginaryError(422, "Image resolution is too big"),
    );
  });
});

describe("GET rules", () => {
  test("without a mount, GET on every image route is imaginary's 405, file= or not", async () => {
    for (const op of operationNames) {
      const res = await call(unmounted.url, `/${op}?file=large.jpg`, { method: "GET", headers: auth });
      expect(res.json(), op).toEqual(
        imaginaryError(
          405,
          "GET method not allowed. Make sure remote URL source is enabled by using the flag: -enable-url-source",
        ),
      );
    }
  });

  test(
    "with a mount, a GET without file (or with only url=, " + "never fetched) is imaginary's 400 missing params",
    async () => {
      for (const query of ["", "?width=100", "?file=", "?url=http://127.0.0.1:1/x.jpg", "?file=%25zz"]) {
        expect((await get(`/resize${query}`)).json(), query).toEqual(
          imaginaryError(400, "Cannot process the image due to missing or invalid params"),
        );
      }
    },
  );

  test("the key is still required on GET: 401 without it or with a wrong one, served with ?key=", async () => {
    for (const headers of [{}, { "API-Key": "wrong" }] as Array<Record<string, string>>) {
      const res = await get("/resize?width=100&file=large.jpg", headers);
      expect(res.json()).toEqual(imaginaryError(401, "Invalid or missing API key"));
    }
    expect((await get(`/resize?width=100&file=large.jpg&key=${key}`, {})).status).toBe(200);
  });

  test("the key is checked before the file: a missing file without the key is 401", async () => {
    expect((await get("/resize?width=100&file=missing.jpg", {})).json()).toEqual(
      imaginaryError(401, "Invalid or missing API key"),
    );
  });

  test("POST still reads the body with a mount; its file= is ignored, as in imaginary", async () => {
    const res = await call(mounted.url, "/info?file=large.jpg", { body: fx.imaginary.buffer, headers: auth });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ width: 550, height: 740 });
    const resized = await call(mounted.url, "/resize?width=300", { body: fx.large.buffer, headers: auth });
    expect(await sizeOf(resized.bytes)).toMatchObject({ width: 300, height: 169 });
  });

  test(
    "files read at once never share bytes: " +
      "48 concurrent reads of 4 files of different colours and sizes each answer their own",
    async () => {
      // The backend reads mounted files into reused buffers (src/backend/buffers.ts): a buffer
      // handed to the next request while its first was still in libvips would mix two images.
      const colours = [
        { r: 250, g: 10, b: 10 },
        { r: 10, g: 250, b: 10 },
        { r: 10, g: 10, b: 250 },
        { r: 240, g: 240, b: 20 },
      ];
      await Promise.all(
        colours.map(async (background, i) => {
          const image = sharp({ create: { width: 800 + i * 400, height: 600 + i * 300, channels: 3, background } });
          await writeFile(join(mount, `colour-${i}.jpg`), await image.jpeg({ quality: 90 }).toBuffer());
        }),
      );
      const replies = await Promise.all(
        Array.from({ length: 48 }, (_, n) => n % colours.length).map(async (i) => ({
          i,
          reply: await get(`/resize?width=64&height=48&file=colour-${i}.jpg`),
        })),
      );
      for (const { i, reply } of replies) {
        expect(reply.status).toBe(200);
        const { channels } = await sharp(reply.bytes).stats();
        const mean = channels.slice(0, 3).map((c) => c.mean);
        const want = colours[i] as { r: number; g: number; b: number };
        [want.r, want.g, want.b].forEach((value, channel) =>
          expect(Math.abs((mean[channel] as number) - value), `file ${i} channel ${channel}`).toBeLessThan(12),
        );
      }
    },
  );

  test("methods other than GET and POST are still 405 with a mount", async () => {
    const res = await call(mounted.url, "/resize?file=large.jpg", { method: "PUT", headers: auth });
    expect(res.json()).toEqual(
      imaginaryError(
        405,
        "HTTP method not allowed. Try with a POST or GET method (-enable-url-source flag must be defined)",
      ),
    );
  });
});

describe("the mount is checked at start", () => {
  test("/ is refused, by its real path too (/. and a symlink to /), as imaginary refuses -mount /", async () => {
    await symlink("/", join(base, "root-link"));
    for (const dir of ["/", "/.", "//", join(base, "root-link")]) {
      await expect(startBackend({ apiKey: key, mount: dir }), dir).rejects.toThrow(
        /cannot mount the root directory for security reasons/,
      );
    }
  });

  test("a missing directory or a file is refused", async () => {
    await expect(startBackend({ apiKey: key, mount: join(base, "nope") })).rejects.toThrow(/--mount .*nope.*ENOENT/);
    await expect(startBackend({ apiKey: key, mount: join(mount, "large.jpg") })).rejects.toThrow(/not a directory/);
  });

  test("aciimg backend --mount / exits 2 with one line before listening", async () => {
    const cli = fileURLToPath(new URL("../../bin/aciimg.js", import.meta.url));
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        [cli, "backend", "--mount", "/", "--key", key],
        { timeout: 30_000 },
        (_error, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
      );
    });
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(
      /^aciimg: backend: --mount "\/": cannot mount the root directory for security reasons/,
    );
    expect(result.code).toBe(2);
  });
});
