/**
 * `aciimg serve` under hostile clients (issue 12, point 5), over real sockets on loopback with a
 * real engine and local backend: slow bodies, bodies declared but never sent, wrong keys in a
 * row, a guessable key, and HTTPS.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect, type Socket } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEngine } from "../../src/compose.js";
import { loadConfig } from "../../src/config.js";
import type { Engine } from "../../src/engine/types.js";
import { startHttpServer, type HttpServer, type HttpServerOptions } from "../../src/http/server.js";
import { createTestCa, issueServerCert } from "../arm-sim/ca.js";
import { until } from "../helpers/wait.js";

const KEY = "serve-hostile-key-0123456789";

let dir: string;
let engine: Engine;
let photo: Buffer;
const servers: HttpServer[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "aciimg-serve-hostile-"));
  engine = await openEngine(loadConfig({ provider: "local", state: join(dir, "state.json") }, { HOME: dir }, dir));
  photo = await sharp({ create: { width: 900, height: 600, channels: 3, background: "#a04060" } })
    .jpeg()
    .toBuffer();
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  await engine?.down().catch(() => undefined);
  await engine?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function serve(options: Partial<HttpServerOptions> = {}): Promise<HttpServer> {
  const server = await startHttpServer({
    engine,
    host: "127.0.0.1",
    port: 0,
    key: KEY,
    maxUploadBytes: 1_000_000,
    log: () => {},
    reapEveryMs: 0,
    ...options,
  });
  servers.push(server);
  return server;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request on its own connection, from `localAddress` (a loopback address of our choice). */
function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer; localAddress?: string; ca?: string },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const request = target.protocol === "https:" ? httpsRequest : httpRequest;
    const req = request(
      target,
      {
        method: options.method ?? "GET",
        headers: options.headers ?? {},
        agent: false,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
        ...(options.ca ? { ca: options.ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.once("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.once("error", reject);
      },
    );
    req.once("error", reject);
    req.end(options.body);
  });
}

/**
 * A client that sends its headers (declaring `declaredBytes`), waits until the server has taken
 * the request in hand (its `100 Continue`), then sends `trickle` bytes at a time on each `tick()`.
 */
async function slowClient(
  url: string,
  declaredBytes: number,
): Promise<{ socket: Socket; answer: Promise<string>; tick(): void }> {
  const { hostname, port, pathname, search } = new URL(url);
  const socket = connect(Number(port), hostname);
  let text = "";
  const continued = new Promise<void>((resolve, reject) => {
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
      if (text.includes("100 Continue")) resolve();
    });
    socket.once("error", reject);
  });
  const answer = new Promise<string>((resolve) => {
    const settle = () => resolve(text.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, ""));
    socket.once("end", settle);
    socket.once("close", settle);
  });
  socket.write(
    `POST ${pathname}${search} HTTP/1.1\r\n` +
      `Host: ${hostname}\r\nAPI-Key: ${KEY}\r\nContent-Length: ${declaredBytes}\r\nExpect: 100-continue\r\n\r\n`,
  );
  await continued;
  let sent = 0;
  return {
    socket,
    answer,
    tick() {
      if (!socket.writable) return;
      socket.write(photo.subarray(sent, sent + 1));
      sent += 1;
    },
  };
}

const statusOf = (raw: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);

describe("aciimg serve under hostile clients", () => {
  it("answers trickling uploads 408 and frees their budget, while a normal upload succeeds meanwhile", async () => {
    // Room for three photos at once; four slow clients each declare one.
    const server = await serve({ maxBufferedBytes: 3 * photo.length, bodyIdleMs: 300 });
    const slow = await Promise.all(
      Array.from({ length: 4 }, () => slowClient(`${server.url}/resize?width=100`, photo.length)),
    );
    // A byte every 50 ms from each: never silent, far below 1 KiB per 300 ms.
    const trickle = setInterval(() => slow.forEach((client) => client.tick()), 50);
    try {
      const normal = await send(`${server.url}/resize?width=120`, {
        method: "POST",
        headers: { "api-key": KEY },
        body: photo,
      });
      expect(normal.status, normal.body.toString()).toBe(200);
      expect((await sharp(normal.body).metadata()).width).toBe(120);

      const answers = await Promise.race([
        Promise.all(slow.map((client) => client.answer)),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error("slow clients were not cut off within 10 s")), 10_000),
        ),
      ]);
      for (const raw of answers) {
        expect(statusOf(raw), raw).toBe(408);
        expect(JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4))).toMatchObject({
          status: 408,
          message: expect.stringMatching(/too slow/),
        });
      }
    } finally {
      clearInterval(trickle);
      slow.forEach((client) => client.socket.destroy());
    }
    // Nothing of theirs is still held: three full uploads fit at once again.
    const after = await Promise.all(
      Array.from({ length: 3 }, () =>
        send(`${server.url}/resize?width=80`, { method: "POST", headers: { "api-key": KEY }, body: photo }),
      ),
    );
    expect(after.map((answer) => answer.status)).toEqual([200, 200, 200]);
  });

  it(
    "holds budget for the bytes that arrived, " +
      "not the length declared: a silent 20 MB declaration locks nobody out",
    async () => {
      // Room for one upload at the limit; the silence bound is long, so it is not what saves the day.
      const server = await serve({ maxUploadBytes: 20_000_000, maxBufferedBytes: 20_000_000, bodyIdleMs: 30_000 });
      const silent = await slowClient(`${server.url}/resize?width=100`, 20_000_000);
      try {
        const normal = await send(`${server.url}/resize?width=90`, {
          method: "POST",
          headers: { "api-key": KEY },
          body: photo,
        });
        expect(normal.status, normal.body.toString()).toBe(200);
        expect((await sharp(normal.body).metadata()).width).toBe(90);
      } finally {
        silent.socket.destroy();
      }
    },
  );

  it(
    "answers wrong keys from one address 429 past ten, " +
      "while another address is unaffected, and logs addresses, never keys",
    async () => {
      const lines: string[] = [];
      const server = await serve({ log: (line) => lines.push(line) });
      const wrong = (i: number) => `wrong-key-${i}-abcdefghijkl`;
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) {
        // Header and `?key=` alike (h2non's node client sends `?key=`).
        const answer =
          i % 2 === 0
            ? await send(`${server.url}/`, { headers: { "api-key": wrong(i) }, localAddress: "127.0.0.1" })
            : await send(`${server.url}/?key=${wrong(i)}`, { localAddress: "127.0.0.1" });
        statuses.push(answer.status);
        if (answer.status === 429) {
          expect(Number(answer.headers["retry-after"])).toBeGreaterThanOrEqual(1);
          expect(JSON.parse(answer.body.toString())).toMatchObject({ status: 429 });
        }
      }
      expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
      expect(statuses.slice(10)).toEqual([429, 429]);
      // Even the right key waits while the address is throttled: the answer says nothing about the key.
      expect((await send(`${server.url}/`, { headers: { "api-key": KEY }, localAddress: "127.0.0.1" })).status).toBe(
        429,
      );

      // Another address: its own allowance, and the right key works at once.
      expect(
        (await send(`${server.url}/`, { headers: { "api-key": wrong(99) }, localAddress: "127.0.0.2" })).status,
      ).toBe(401);
      expect((await send(`${server.url}/`, { headers: { "api-key": KEY }, localAddress: "127.0.0.2" })).status).toBe(
        200,
      );

      // Once the wrong attempts stop, the right key from the throttled address gets in within a second or so.
      let last = 0;
      const options = { headers: { "api-key": KEY }, localAddress: "127.0.0.1" };
      const status = async () => (await send(`${server.url}/`, options)).status;
      await until(async () => (last = await status()) !== 429, "the throttle to let the right key in", 3_000);
      expect(last).toBe(200);
      // …the way h2non's node client sends it too: `?key=` with a multipart upload.
      const form = new FormData();
      form.append("file", new Blob([photo], { type: "image/jpeg" }), "photo.jpg");
      const multipart = await fetch(`${server.url}/resize?width=70&key=${KEY}`, { method: "POST", body: form });
      expect(multipart.status).toBe(200);
      expect((await sharp(Buffer.from(await multipart.arrayBuffer())).metadata()).width).toBe(70);

      await until(() => lines.some((line) => / 127\.0\.0\.2 GET \/ 200 /.test(line)), "the access log line", 5_000);
      expect(lines.some((line) => / 127\.0\.0\.1 GET \/ 401 /.test(line))).toBe(true);
      expect(lines.some((line) => / 127\.0\.0\.1 GET \/ 429 /.test(line))).toBe(true);
      const log = lines.join("\n");
      expect(log).not.toContain(KEY);
      for (let i = 0; i < 12; i++) expect(log).not.toContain(wrong(i));
    },
  );

  it("refuses a key shorter than 16 characters, saying how to make one", async () => {
    await expect(serve({ key: "s3cret" })).rejects.toMatchObject({
      code: "E_USAGE",
      message: expect.stringMatching(/ACIIMG_SERVE_KEY.*--key.*at least 16.*openssl rand -hex 32/s),
    });
    await expect(serve({ key: "" })).rejects.toMatchObject({
      code: "E_USAGE",
      message: expect.stringContaining("ACIIMG_SERVE_KEY"),
    });
  });

  it("serves HTTPS with a certificate: a client trusting it gets its image, with no plain-HTTP warning", async () => {
    const ca = createTestCa();
    const cert = issueServerCert(ca, ["127.0.0.1"]);
    const lines: string[] = [];
    const server = await serve({ tls: { cert: cert.certPem, key: cert.keyPem }, log: (line) => lines.push(line) });
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const answer = await send(`${server.url}/resize?width=110`, {
      method: "POST",
      headers: { "api-key": KEY },
      body: photo,
      ca: ca.certPem,
    });
    expect(answer.status, answer.body.toString()).toBe(200);
    expect((await sharp(answer.body).metadata()).width).toBe(110);
    // A client that does not trust it sends nothing over the connection.
    await expect(send(`${server.url}/`, { headers: { "api-key": KEY } })).rejects.toThrow(
      /self.signed|unable to verify|certificate/i,
    );
    expect(lines.join("\n")).not.toMatch(/WARNING/);
  });
});
