/**
 * GET /health of a recorded backend as the product reaches it: through our imaginary client,
 * pinned to the record's certificate when it has one (aci), plain http otherwise (local).
 */
import type { BackendRecord } from "../../src/engine/types.js";
import { createImaginaryClient, type HealthInfo } from "../../src/client/client.js";

/** 200 with the body, or the refusal's status (401); anything else (unreachable, untrusted) throws. */
export async function healthOf(
  record: Pick<BackendRecord, "endpoint" | "tlsFingerprint">,
  apiKey: string | undefined,
): Promise<{ status: number; info?: HealthInfo }> {
  const client = createImaginaryClient({
    endpoint: record.endpoint,
    apiKey: apiKey ?? "",
    tlsFingerprint: record.tlsFingerprint,
    connections: 1,
    connectTimeoutMs: 10_000,
    headersTimeoutMs: 10_000,
    bodyTimeoutMs: 10_000,
  });
  try {
    const probe = await client.probe(AbortSignal.timeout(10_000));
    if (probe.state === "healthy") return { status: 200, info: probe.info };
    if (probe.state === "unauthorized") return { status: probe.status };
    throw probe.error;
  } finally {
    await client.close();
  }
}
