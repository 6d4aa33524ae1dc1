/**
 * The engine's imaginary clients: one keep-alive pool per backend (by id, endpoint and pin), and
 * when each backend was last seen healthy (ensure skips the /health probe within `trustMs`).
 */
import { createImaginaryClient, type ImaginaryClient } from "../client/client.js";
import type { BackendRecord } from "./types.js";

export interface BackendClients {
  /** When each backend (by id) last answered; ensure trusts a recent answer without a probe. */
  readonly seenHealthy: Map<string, number>;
  /** The client of the backend `record` names, made on first use. */
  clientFor(record: BackendRecord): ImaginaryClient;
  /** Closes the clients of backend `id` and forgets when it was seen healthy. */
  drop(id: string): Promise<void>;
  /** Closes every client. */
  close(): Promise<void>;
}

/** How long a request may wait for the backend's answer, and what its timeout error advises. */
export interface RequestTimeout {
  ms: number;
  advice?: string | undefined;
}

/**
 * The client cache; `connections` keep-alive connections per backend. `timeout` bounds the wait for
 * the answer's headers and each pause in its body (the client's defaults: 2 min, 1 min).
 */
export function createBackendClients(connections: number | undefined, timeout?: RequestTimeout): BackendClients {
  const timeouts =
    timeout === undefined
      ? {}
      : { headersTimeoutMs: timeout.ms, bodyTimeoutMs: timeout.ms, timeoutAdvice: timeout.advice };
  const clients = new Map<string, ImaginaryClient>();
  const seenHealthy = new Map<string, number>();
  return {
    seenHealthy,
    clientFor(record) {
      const key = `${record.id} ${record.endpoint} ${record.tlsFingerprint ?? ""}`;
      let client = clients.get(key);
      if (!client) {
        const { endpoint, apiKey, tlsFingerprint, fileRoot } = record;
        client = createImaginaryClient({ endpoint, apiKey, tlsFingerprint, fileRoot, connections, ...timeouts });
        clients.set(key, client);
      }
      return client;
    },
    async drop(id) {
      seenHealthy.delete(id);
      for (const [key, client] of clients) {
        if (key.startsWith(`${id} `)) {
          clients.delete(key);
          await client.close().catch(() => undefined);
        }
      }
    },
    async close() {
      await Promise.all([...clients.values()].map((client) => client.close().catch(() => undefined)));
      clients.clear();
    },
  };
}
