/**
 * The transport of TCP endpoints: one keep-alive undici Pool per client, so one pin per pool and
 * connections are never shared across pins; an https:// endpoint connects only through the pinned
 * connector (pinning.ts). Imported on a client's first request to such an endpoint, never for a
 * `unix:` one: undici takes ~90-140 ms to load.
 */
import { Pool } from "undici";
import type { Transport } from "./transport.js";

export interface PoolTransportOptions {
  /** Base URL, http:// or https://, without a trailing slash. */
  endpoint: string;
  /** The normalized pin of an https:// endpoint; undefined for http://. */
  fingerprint: string | undefined;
  connections: number;
  connectTimeout: number;
  headersTimeout: number;
  bodyTimeout: number;
}

/** Creates the undici Pool transport of one http(s):// endpoint. */
export async function createPoolTransport(options: PoolTransportOptions): Promise<Transport> {
  const { endpoint, fingerprint, connectTimeout } = options;
  const connect = fingerprint
    ? (await import("./pinning.js")).pinnedConnector({ endpoint, fingerprint, timeoutMs: connectTimeout })
    : { timeout: connectTimeout };
  const pool = new Pool(endpoint, {
    connections: options.connections,
    connect,
    headersTimeout: options.headersTimeout,
    bodyTimeout: options.bodyTimeout,
    keepAliveTimeout: 30_000,
  });
  return {
    async request(request) {
      const response = await pool.request(request);
      return { statusCode: response.statusCode, headers: response.headers, body: response.body };
    },
    close: () => pool.close(),
  };
}
