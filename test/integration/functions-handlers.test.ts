/**
 * The Functions app's handlers called as the host calls them, with real @azure/functions
 * HttpRequest / InvocationContext / HttpResponse objects, on the app's configuration: blob state
 * (Azurite) and, for want of Azure, the local provider.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HttpRequest, HttpResponse, InvocationContext, type HttpResponseInit, type Timer } from "@azure/functions";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { openEngine } from "../../src/compose.js";
import { loadConfig, type Config } from "../../src/config.js";
import type { Engine } from "../../src/engine/types.js";
import { createFunctionHandlers } from "../../src/functions/handlers.js";
import { createBlobStateStore } from "../../src/state/blob.js";
import { startAzurite, type Azurite } from "../helpers/azurite.js";

let azurite: Azurite;
let dir: string;
let config: Config;
let engine: Promise<Engine>;
let photo: Buffer;

beforeAll(async () => {
  azurite = await startAzurite();
  dir = await mkdtemp(join(tmpdir(), "aciimg-func-"));
  // What a Function App has: AzureWebJobsStorage, so state goes to blob storage.
  config = loadConfig(
    { provider: "local", state: join(dir, "state.json") },
    {
      HOME: dir,
      AzureWebJobsStorage: azurite.connectionString,
      ACIIMG_STATE_BLOB_CONTAINER: `func-${process.pid}`,
    },
    dir,
  );
  engine = openEngine(config);
  photo = await sharp({ create: { width: 640, height: 480, channels: 3, background: "#20a060" } })
    .jpeg()
    .toBuffer();
});

afterAll(async () => {
  const opened = await engine?.catch(() => undefined);
  await opened?.down().catch(() => undefined);
  await opened?.close();
  await azurite?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const handlers = (overrides: { key?: string; idleMs?: number } = {}) =>
  createFunctionHandlers({
    engine: () => engine,
    key: overrides.key,
    maxUploadBytes: 2_000_000,
    idleMs: overrides.idleMs ?? 60_000,
  });

function context(name: string, lines: string[] = []): InvocationContext {
  return new InvocationContext({
    invocationId: `test-${name}`,
    functionName: name,
    logHandler: (level, ...args) => lines.push(`${level} ${args.map(String).join(" ")}`),
  });
}

function request(
  method: string,
  op: string,
  query: string,
  body?: Buffer,
  headers: Record<string, string> = {},
): HttpRequest {
  return new HttpRequest({
    method,
    url: `http://localhost:7071/api/${op}${query ? `?${query}` : ""}`,
    params: { op },
    headers,
    ...(body ? { body: { bytes: body } } : {}),
  });
}

/** What the host does with the returned init: wrap it in an HttpResponse and read it. */
const asResponse = (init: HttpResponseInit) => new HttpResponse(init);

const timer: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: true },
  scheduleStatus: { last: "", next: "", lastUpdated: "" },
};

describe("Functions app handlers", () => {
  it("process resizes an image on blob state, with the host's `code` key kept away from the backend", async () => {
    const res = asResponse(
      await handlers().process(
        request("POST", "resize", "width=300&height=200&code=host-function-key", photo),
        context("process"),
      ),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/jpeg");
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([300, 200]);
    const state = await createBlobStateStore(config.blob).read();
    const record = state.backends.default;
    expect(record?.status).toBe("running");
    // The backend's access log shows what it was sent: the params, not the host's key.
    const provider = (await engine).provider;
    // The line is written as the backend finishes: bounded wait for it.
    const line = await vi.waitFor(
      async () => {
        const found = (await provider.logs!(record!, 50)).split("\n").find((l) => l.includes("POST /resize"));
        if (found === undefined) throw new Error("no POST /resize line in the backend's log yet");
        return found;
      },
      { timeout: 5_000, interval: 25 },
    );
    expect(line).toContain("width=300&height=200");
    expect(line).not.toContain("code=");
    expect(line).not.toContain("host-function-key");
  });

  it("process answers bad requests with imaginary's status and JSON body", async () => {
    const cases: Array<[HttpRequest, number, string | RegExp]> = [
      [request("POST", "sharpen", "width=3", photo), 404, "Not found"],
      [request("POST", "resize", "width=abc", photo), 400, /^Error while processing parameters/],
      [request("POST", "resize", "width=30", Buffer.from("not an image at all")), 406, "Unsupported media type"],
      [request("POST", "resize", "width=30", Buffer.alloc(2_000_001, 0xff)), 413, /too large/],
      [request("GET", "resize", "width=30"), 405, /^GET method not allowed/],
    ];
    for (const [req, status, message] of cases) {
      const res = asResponse(await handlers().process(req, context("process")));
      expect(res.status).toBe(status);
      const body = (await res.json()) as { message: string; status: number };
      expect(body.status).toBe(status);
      if (typeof message === "string") expect(body.message).toBe(message);
      else expect(body.message).toMatch(message);
    }
  });

  it("process requires ACIIMG_SERVE_KEY as well when one is configured", async () => {
    const guarded = handlers({ key: "extra-key-123" });
    const denied = asResponse(await guarded.process(request("POST", "resize", "width=30", photo), context("process")));
    expect(denied.status).toBe(401);
    expect(await denied.json()).toEqual({ message: "Invalid or missing API key", status: 401 });
    const allowed = asResponse(
      await guarded.process(
        request("POST", "resize", "width=30", photo, { "api-key": "extra-key-123" }),
        context("process"),
      ),
    );
    expect(allowed.status).toBe(200);
    await allowed.arrayBuffer();
  });

  it("process answers /health and /status through the {op} route", async () => {
    const health = asResponse(await handlers().process(request("GET", "health", ""), context("process")));
    expect(health.status).toBe(200);
    const status = asResponse(await handlers().process(request("GET", "status", ""), context("process")));
    expect(await status.json()).toMatchObject({ provider: "local", state: "running" });
  });

  it("cleanup keeps a backend used within the idle limit and reaps it past the limit", async () => {
    const lines: string[] = [];
    await handlers({ idleMs: 60_000 }).cleanup(timer, context("cleanup", lines));
    expect(lines.join("\n")).toMatch(/removed none; kept default \(in-use\)/);
    expect(await (await engine).provider.list()).toHaveLength(1);

    await handlers({ idleMs: 0 }).cleanup(timer, context("cleanup", lines));
    expect(lines.at(-1)).toMatch(/removed default \(idle\)/);
    expect(await (await engine).provider.list()).toEqual([]);
    expect((await createBlobStateStore(config.blob).read()).backends).toEqual({});
  });

  it(
    "process answers 503 with Retry-After when no backend " + "can be provisioned (aci without a subscription)",
    async () => {
      const broken = createFunctionHandlers({
        engine: () => openEngine(loadConfig({ provider: "aci" }, { HOME: dir }, dir)),
        key: undefined,
        maxUploadBytes: 2_000_000,
        idleMs: 1000,
      });
      const lines: string[] = [];
      const res = asResponse(
        await broken.process(request("POST", "resize", "width=30", photo), context("process", lines)),
      );
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("30");
      expect(await res.json()).toMatchObject({ status: 503 });
      expect(lines.join("\n")).toMatch(/E_CONFIG|subscription/i);
      // A later invocation's diagnostics go to its own log, not the first one's.
      const later: string[] = [];
      const again = asResponse(
        await broken.process(request("POST", "resize", "width=30", photo), context("process-2", later)),
      );
      expect(again.status).toBe(503);
      expect(later.join("\n")).toMatch(/E_CONFIG|subscription/i);
    },
  );
});
