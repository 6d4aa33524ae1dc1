/**
 * Typed client of the imaginary HTTP API (docs/reference/imaginary-api.md §1): one keep-alive transport per
 * backend (undici's Pool over TCP, node:http over a `unix:` socket: transport.ts), request bodies
 * streamed from their source (files are piped, never read whole), responses handed back as
 * streams. An https:// backend is reached only when it presents the pinned certificate
 * (pinning.ts). Transport and imaginary errors are mapped to AciimgError at this boundary, once
 * (client-errors.ts; STYLE.md "Errors").
 */
import type { Readable } from "node:stream";
import { AciimgError, isAciimgError } from "../errors.js";
import { fileIdentityHeader } from "../protocol/file-identity.js";
import { emptyResponseError, imaginaryError, mapTransportError, type ResponseTimeouts } from "./client-errors.js";
import type { ImageRequest, ImageResponse } from "./types.js";
import { pinOf, socketPathOf } from "./endpoint.js";
import type { Transport } from "./transport.js";
import { discard, fileUnder, flattenHeaders, hasBytes, queryString, readBounded } from "./wire.js";

export interface ImaginaryClientOptions {
  /**
   * Where the backend is: a base URL such as https://20.1.2.3:9000 or http://127.0.0.1:41234 (a
   * trailing slash is ignored), or `unix:/abs/path.sock` for plain HTTP over that Unix domain
   * socket (the local provider's backends, reachable only through their owner's 0700 directory).
   */
  endpoint: string;
  /** Sent as the `API-Key` header on every request, /health included (docs/reference/imaginary-api.md §2.1). */
  apiKey: string;
  /** TCP connect timeout (a Unix socket connects or fails at once). Default 10 s. */
  connectTimeoutMs?: number;
  /** Time to the response headers (covers the processing time of a large image). Default 120 s. */
  headersTimeoutMs?: number;
  /** Longest pause between two body chunks. Default 60 s. */
  bodyTimeoutMs?: number;
  /** What the E_REQUEST_TIMEOUT of either timeout tells a person to do to raise it (a sentence). Default none. */
  timeoutAdvice?: string | undefined;
  /** Keep-alive connections at most (the pool's, or the socket agent's maxSockets). Default 16. */
  connections?: number;
  /**
   * SHA-256 fingerprint ("AB:CD:…", as X509Certificate#fingerprint256 prints it) of the only
   * certificate an https:// endpoint may present; any other fails with E_BACKEND_UNTRUSTED before
   * a request is sent. Required for https://, refused for http:// (a pin must never be dropped
   * silently).
   */
  tlsFingerprint?: string | undefined;
  /**
   * The directory the backend reads `GET /<op>?file=` from (its --mount, absolute): a request whose
   * `file` lies under it is sent as that GET with no body. Default: none, every image is sent.
   */
  fileRoot?: string | undefined;
}

/** imaginary's /health body (docs/reference/imaginary-api.md §3); only the fields aciimg uses are typed. */
export interface HealthInfo {
  uptime?: number;
  /** The backend's CPU count: the CLI's default batch concurrency. */
  cpus?: number;
  [field: string]: unknown;
}

/**
 * What a /health probe found. `unreachable` covers no answer, a reset or timeout, and an answer
 * that is not a healthy imaginary (5xx, not its JSON): `error.code` says which.
 */
export type HealthProbe =
  | { state: "healthy"; info: HealthInfo }
  /** Something answered and refused our key (401/403): not the backend this key was made for. */
  | { state: "unauthorized"; status: number; error: AciimgError }
  /** The peer's certificate is not the pinned one, or it does not speak TLS: E_BACKEND_UNTRUSTED; nothing was sent. */
  | { state: "untrusted"; error: AciimgError }
  | { state: "unreachable"; error: AciimgError };

export interface ImaginaryClient {
  readonly endpoint: string;
  /**
   * GET /health with the key; resolves with the parsed body, fails with E_BACKEND_UNREACHABLE,
   * E_BACKEND_UNTRUSTED or E_IMAGE (`detail.status` 401 when the key is refused).
   */
  health(signal?: AbortSignal): Promise<HealthInfo>;
  /** GET /health as a typed outcome instead of an error; only cancellation (E_ABORTED) and bugs throw. */
  probe(signal?: AbortSignal): Promise<HealthProbe>;
  /**
   * POST /<op>?<query> with the image, or GET /<op>?<query>&file= when the backend reads `file`
   * itself (`fileRoot`); resolves on a 2xx with a non-empty streamed body.
   */
  request(request: ImageRequest): Promise<ImageResponse>;
  /** Lets requests in flight finish, then closes the connections. */
  close(): Promise<void>;
}

/**
 * Longest request target sent as `GET …&file=`. Node's HTTP servers (the local backend) refuse a
 * header section over 16 KiB with a 431, and a 4 KiB path of non-ASCII names escaped twice is ~20 KiB.
 */
const maxRequestTarget = 8 * 1024;

/** Largest error body read into memory: imaginary's are one short JSON line (§1.8). */
const maxErrorBodyBytes = 64 * 1024;

/**
 * Creates a client of one backend. (Long only for its methods,
 * each short: they share the lazily made transport and the pin.)
 */
export function createImaginaryClient(options: ImaginaryClientOptions): ImaginaryClient {
  const endpoint = options.endpoint.replace(/\/+$/, "");
  const headersTimeout = options.headersTimeoutMs ?? 120_000;
  const bodyTimeout = options.bodyTimeoutMs ?? 60_000;
  const connectTimeout = options.connectTimeoutMs ?? 10_000;
  const timeouts: ResponseTimeouts = { headersMs: headersTimeout, bodyMs: bodyTimeout, advice: options.timeoutAdvice };
  const fingerprint = pinOf(endpoint, options.tlsFingerprint);
  const socketPath = socketPathOf(endpoint);
  // Made on the first request, and only the one this endpoint needs: undici takes ~90-140 ms to
  // load, which `status`, `reap` and `down` never need, nor a run that only talks to a socket.
  let transport: Promise<Transport> | undefined;
  /** Whether the backend answers a GET ?file= with the identity it was sent, having compared it (file-identity.ts). */
  let comparesIdentity = true;
  const openTransport = async (): Promise<Transport> => {
    const connections = options.connections ?? 16;
    if (socketPath !== undefined)
      return (await import("./socket-transport.js")).createSocketTransport({ socketPath, connections });
    const { createPoolTransport } = await import("./pool-transport.js");
    return createPoolTransport({ endpoint, fingerprint, connections, connectTimeout, headersTimeout, bodyTimeout });
  };

  async function send(
    method: "GET" | "POST",
    path: string,
    headers: Record<string, string>,
    body: Uint8Array | Readable | undefined,
    signal: AbortSignal | undefined,
  ): Promise<ImageResponse> {
    let response;
    try {
      response = await (await (transport ??= openTransport())).request({
        method,
        path,
        headers: { "api-key": options.apiKey, ...headers },
        body,
        signal,
        headersTimeout,
        bodyTimeout,
      });
    } catch (error) {
      if (body && typeof body === "object" && "destroy" in body) body.destroy();
      throw mapTransportError(error, endpoint, path, socketPath !== undefined, timeouts);
    }
    const responseHeaders = flattenHeaders(response.headers);
    if (response.statusCode >= 400) {
      const text = await readBounded(response.body, maxErrorBodyBytes).catch(() => "");
      throw imaginaryError(response.statusCode, responseHeaders["content-type"] ?? "", text);
    }
    return { status: response.statusCode, headers: responseHeaders, body: response.body };
  }

  const health = async (signal?: AbortSignal): Promise<HealthInfo> => {
    const response = await send("GET", "/health", { accept: "application/json" }, undefined, signal);
    const text = await readBounded(response.body, maxErrorBodyBytes).catch((error: unknown) => {
      throw mapTransportError(error, endpoint, "/health", socketPath !== undefined, timeouts);
    });
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed as HealthInfo;
    } catch {
      // fall through: not imaginary
    }
    throw new AciimgError(
      "E_BACKEND_UNREACHABLE",
      `the backend at ${endpoint} answered /health with something that is not imaginary's JSON; ` +
        `another program may hold its port. Run \`aciimg down\` and try again.`,
    );
  };

  return {
    endpoint,
    health,

    async probe(signal) {
      try {
        return { state: "healthy", info: await health(signal) };
      } catch (error) {
        if (!isAciimgError(error) || error.code === "E_ABORTED") throw error;
        if (error.code === "E_BACKEND_UNTRUSTED") return { state: "untrusted", error };
        const status = error.detail?.status;
        if (error.code === "E_IMAGE" && (status === 401 || status === 403))
          return { state: "unauthorized", status, error };
        return { state: "unreachable", error };
      }
    },

    async request(request) {
      const op = `/${encodeURIComponent(request.op)}`;
      const isFileSource = request.fileIdentity === undefined || comparesIdentity;
      const mounted = isFileSource ? fileUnder(options.fileRoot, request.file) : undefined;
      const byFile = mounted === undefined ? undefined : `${op}${queryString(request.query, mounted)}`;
      // A path too long for a request line goes as an upload: escaped twice, a byte can take five characters.
      const isByFile = byFile !== undefined && byFile.length <= maxRequestTarget;
      const file = isByFile ? mounted : undefined;
      let path = isByFile ? byFile : `${op}${queryString(request.query)}`;
      const headers: Record<string, string> = {};
      if (request.accept) headers.accept = request.accept;
      let response: ImageResponse | undefined;
      if (file !== undefined) {
        const identity = request.fileIdentity;
        const sent = identity === undefined ? headers : { ...headers, [fileIdentityHeader]: identity };
        response = await send("GET", path, sent, undefined, request.signal);
        if (identity !== undefined && response.headers[fileIdentityHeader] !== identity) {
          // A backend that did not compare the file (started by an aciimg before the header) may
          // have followed a link put in since the caller's check: its answer is dropped, and it is
          // sent the bytes, now and from now on (file-identity.ts).
          discard(response.body);
          comparesIdentity = false;
          response = undefined;
        }
      }
      if (response === undefined) {
        path = `${op}${queryString(request.query)}`;
        headers["content-type"] = request.contentType ?? "application/octet-stream";
        const body = typeof request.body === "function" ? request.body() : request.body;
        if (typeof request.body === "function" && request.length !== undefined)
          headers["content-length"] = String(request.length);
        response = await send("POST", path, headers, body, request.signal);
      }
      // An empty 200 is never a valid image (or /info JSON): treat it as the backend failing.
      if (response.headers["content-length"] === "0") {
        discard(response.body);
        throw emptyResponseError(endpoint, path);
      }
      const nonEmpty = await hasBytes(response.body).catch((error: unknown) => {
        throw mapTransportError(error, endpoint, path, socketPath !== undefined, timeouts);
      });
      if (!nonEmpty) throw emptyResponseError(endpoint, path);
      return response;
    },

    async close() {
      if (transport) await (await transport).close();
    },
  };
}
