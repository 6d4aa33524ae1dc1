/**
 * The stream ends of `aciimg process`: `-` (stdin to stdout or to -o), the backend's CPU count for
 * the default concurrency (imaginary's /health `cpus`, imaginary-api.md §3), and error bodies.
 */
import type { Readable } from "node:stream";
import { AciimgError } from "../../errors.js";
import { createImaginaryClient } from "../../imaginary/client.js";
import type { BackendRecord, Engine } from "../../engine/types.js";
import { writeAtomically } from "../outputs.js";
import type { ImagePlan } from "../plan.js";
import { resolve } from "node:path";
import { pipeline } from "node:stream/promises";

/** Reads stdin whole (bounded by the backend's upload limit) so the call can be retried once. */
async function readStdin(limitBytes: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) throw new AciimgError("E_BAD_INPUT", `stdin holds more than the ${limitBytes} bytes the backend accepts (--max-size)`);
    chunks.push(chunk);
  }
  if (size === 0) throw new AciimgError("E_BAD_INPUT", "stdin is empty: pipe an image into aciimg process -");
  return Buffer.concat(chunks, size);
}

/** `aciimg process -`: one image from stdin, the result on stdout (or in the -o file). */
export async function runStdin(engine: Engine, plan: ImagePlan, output: string | undefined, limitBytes: number): Promise<number> {
  const body = await readStdin(limitBytes);
  const work = engine.beginWork();
  try {
    const response = await engine.call({ op: plan.op, query: plan.query, body });
    if (response.status >= 400) {
      throw new AciimgError("E_IMAGE", `the backend refused the image from stdin (${response.status}): ${await readResponseText(response.body)}`);
    }
    if (output === undefined) await pipeline(response.body, process.stdout);
    else await writeAtomically(resolve(output), response.body);
    return 0;
  } finally {
    await work.end();
  }
}

/** Reads a (small) error body as text, bounded. */
export async function readResponseText(body: Readable, limitBytes = 64 * 1024): Promise<string> {
  let text = "";
  for await (const chunk of body as AsyncIterable<Buffer>) {
    text += chunk.toString("utf8");
    if (text.length > limitBytes) break;
  }
  body.destroy();
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === "string") return parsed.message;
  } catch {
    // not JSON: imaginary's 429 is text/plain (imaginary-api.md §1.8)
  }
  return text.trim() || "(empty answer)";
}

/** The backend's CPU count from GET /health, or undefined when it does not say. */
export async function backendCpus(record: BackendRecord): Promise<number | undefined> {
  // Our own client, not fetch(): fetch's first use loads Node's bundled undici, ~80 ms of start-up.
  const client = createImaginaryClient({ endpoint: record.endpoint, apiKey: record.apiKey, connections: 1, connectTimeoutMs: 5000, headersTimeoutMs: 5000, bodyTimeoutMs: 5000 });
  try {
    const { cpus } = await client.health();
    return typeof cpus === "number" && Number.isInteger(cpus) && cpus > 0 ? cpus : undefined;
  } catch {
    return undefined;
  } finally {
    await client.close().catch(() => undefined);
  }
}
