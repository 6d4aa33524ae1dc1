/**
 * The client's file source (issue 15): with a `fileRoot`, a request whose `file` lies under it is a
 * body-less `GET /<op>?…&file=` that the backend reads itself; any other request sends its bytes.
 * A real backend on a Unix socket, mounted on `/` as the local provider runs it.
 */
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { createServer, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startBackend, type RunningBackend } from "../../src/backend/server.js";
import { createImaginaryClient, type ImaginaryClient } from "../../src/client/client.js";
import { fileIdentityOf } from "../../src/protocol/file-identity.js";

const apiKey = "file-source-key";
let dir: string;
let backend: RunningBackend;
let logged: string[];
let client: ImaginaryClient;
let photo: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "aciimg-client-file-"));
  photo = await sharp({ create: { width: 400, height: 300, channels: 3, background: "#3080c0" } })
    .jpeg()
    .toBuffer();
  await writeFile(join(dir, "a b%c+d.jpg"), photo);
  logged = [];
  backend = await startBackend({
    apiKey,
    socketPath: join(dir, "backend.sock"),
    mount: "/",
    allowRootMount: true,
    cpus: 1,
    log: (line) => logged.push(line),
  });
  client = createImaginaryClient({ endpoint: backend.url, apiKey, fileRoot: "/" });
});
afterAll(async () => {
  await client?.close();
  await backend?.close();
  await rm(dir, { recursive: true, force: true });
});

const resize = (file: string | undefined, body: () => Readable) =>
  client.request({
    op: "resize",
    query: new URLSearchParams({ width: "100", height: "75" }),
    body,
    ...(file === undefined ? {} : { file }),
  });

describe("a backend that reads files under the client's fileRoot", () => {
  test(
    "a file whose name needs escaping is sent as GET " + "?file= (escaped twice) with no body, and read as named",
    async () => {
      let opened = false;
      const response = await resize(join(dir, "a b%c+d.jpg"), () => {
        opened = true;
        return Readable.from([photo]);
      });
      expect(await sharp(Buffer.concat(await response.body.toArray())).metadata()).toMatchObject({
        width: 100,
        height: 75,
      });
      expect(opened).toBe(false);
      expect(logged.at(-1)).toContain(
        `"GET /resize?width=100&height=75&file=` +
          encodeURIComponent(encodeURIComponent(join(dir, "a b%c+d.jpg").slice(1))) +
          ` HTTP/1.1" 200`,
      );
    },
  );

  test("a request without `file`, or with a relative one, sends its bytes", async () => {
    for (const file of [undefined, "a b%c+d.jpg"]) {
      const response = await resize(file, () => Readable.from([photo]));
      expect(await sharp(Buffer.concat(await response.body.toArray())).metadata()).toMatchObject({ width: 100 });
      expect(logged.at(-1)).toMatch(/"POST \/resize\?width=100&height=75 HTTP\/1\.1" 200/);
    }
  });

  test("a missing file is the backend's 400 Invalid file path", async () => {
    await expect(resize(join(dir, "missing.jpg"), () => Readable.from([photo]))).rejects.toMatchObject({
      code: "E_IMAGE",
      detail: { status: 400 },
    });
  });
});

describe("X-Aciimg-File-Identity (issue 22 §4)", () => {
  // A backend that does not send the identity back is one from before it, which follows links.
  test("a backend that does not send it back has its answer dropped, and is sent the bytes from then on", async () => {
    // That backend: ours behind a relay that drops the header both ways, as one that never knew it.
    const relaySocket = join(dir, "relay.sock");
    const relay = createServer((req, res) => {
      const { "x-aciimg-file-identity": _sent, ...headers } = req.headers;
      const to = { socketPath: join(dir, "backend.sock"), method: req.method, path: req.url, headers };
      const upstream = httpRequest(to, (answer) => {
        const { "x-aciimg-file-identity": _echoed, ...back } = answer.headers;
        res.writeHead(answer.statusCode ?? 502, back);
        answer.pipe(res);
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => relay.listen(relaySocket, resolve));
    const old = createImaginaryClient({ endpoint: `unix:${relaySocket}`, apiKey, fileRoot: "/" });
    try {
      const file = join(dir, "a b%c+d.jpg");
      const fileIdentity = fileIdentityOf(await stat(file, { bigint: true }));
      const before = logged.length;
      for (let n = 0; n < 2; n++) {
        const query = new URLSearchParams({ width: "100" });
        const body = (): Readable => Readable.from([photo]);
        const response = await old.request({ op: "resize", query, body, file, fileIdentity });
        expect(await sharp(Buffer.concat(await response.body.toArray())).metadata()).toMatchObject({ width: 100 });
      }
      expect(logged.slice(before).map((line) => /"(GET|POST) /.exec(line)?.[1])).toEqual(["GET", "POST", "POST"]);
    } finally {
      await old.close();
      relay.closeAllConnections();
      await new Promise((resolve) => relay.close(resolve));
    }
  });
});

describe("mounting /", () => {
  test("is refused without allowRootMount, and over TCP even with it", async () => {
    await expect(startBackend({ apiKey, mount: "/", socketPath: join(dir, "refused.sock") })).rejects.toThrow(
      /cannot mount the root directory/,
    );
    await expect(startBackend({ apiKey, mount: "/", allowRootMount: true, port: 0 })).rejects.toThrow(/needs --socket/);
  });
});
