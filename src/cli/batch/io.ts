/**
 * The stream ends of `aciimg process`: `-` (stdin to stdout or to -o), the backend's CPU count for
 * the default concurrency (imaginary's /health `cpus`, docs/reference/imaginary-api.md §3), and error bodies.
 */
import { dirname } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { backendSpecOf, screensSvg, type Config } from "../../config.js";
import { oversizeMessage, warnDrift } from "../backend-settings.js";
import { AciimgError } from "../../errors.js";
import type { BackendRecord } from "../../engine/types.js";
import { createImaginaryClient } from "../../client/client.js";
import { framesWarning } from "../../protocol/frames.js";
import { formatBytes } from "../../units.js";
import { withEngine } from "../context.js";
import { problemOf } from "./input-file.js";
import { prepareFolders, removeEmptyFolders } from "./output-plan.js";
import { writeAtomically, type InPlace } from "./outputs.js";
import { ignoresQuality, outputTypeOf, qualityIgnoredWarning } from "./output-types.js";
import type { ImagePlan } from "./plan.js";
import { refusalOf } from "./refusals.js";
import { createReporter, summarize, type FileResult, type ReporterOptions } from "./report.js";
import { stopSignal, stopWords } from "../signals.js";

/** Reads stdin whole (bounded by the backend's upload limit) so the call can be retried once. */
async function readStdin(limitBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) {
      throw new AciimgError(
        "E_BAD_INPUT",
        `stdin holds more than the ${formatBytes(limitBytes)} ` +
          `the backend accepts (raise it with ACIIMG_MAX_SIZE, or "maxSize" in aciimg.config.json)`,
      );
    }
    chunks.push(chunk);
  }
  if (size === 0) throw new AciimgError("E_BAD_INPUT", "stdin is empty: pipe an image into aciimg process -");
  return Buffer.concat(chunks, size);
}

/** Where `process -` writes: stdout when undefined, else a file (or a device such as /dev/null). */
export type StdinTarget = { kind: "file"; path: string; direct: InPlace | undefined; shown: string } | undefined;

/**
 * `aciimg process -`: one image from stdin, checked like a file (empty, truncated) before any
 * backend is woken; the result goes to stdout, or to the -o file under the same rules as a file
 * input's (parent folders created, written atomically, reported with an ok line or JSON line).
 */
export async function runStdin(
  config: Config,
  plan: ImagePlan,
  target: StdinTarget,
  mode: ReporterOptions["mode"],
): Promise<number> {
  const bytes = await readStdin(config.maxUploadBytes);
  const name = "the image on stdin";
  const readAt = (length: number, position: number): Buffer => bytes.subarray(position, position + length);
  const problem = problemOf(name, bytes, bytes.length, readAt, screensSvg(config));
  const reporter = target ? await createReporter({ mode, stdout: process.stdout, stderr: process.stderr }) : undefined;
  const startedAt = performance.now();
  /**
   * A failure of the image itself is reported like a file's in a batch under --json; else it is the command's error.
   */
  const fail = (error: AciimgError): number => {
    if (!reporter || mode !== "json") throw error;
    const result: FileResult = {
      input: "-",
      output: target?.shown ?? null,
      status: "failed",
      ms: Math.round(performance.now() - startedAt),
      code: error.code,
      error: error.message,
    };
    reporter.file(result);
    reporter.finish(summarize([result], startedAt, null));
    return 1;
  };
  if (problem) return fail(problem);
  // As for a file: the type asked for (or -o's extension), else the input's own or its default.
  const type = outputTypeOf(plan.outputType, bytes);
  if (plan.quality !== undefined && ignoresQuality(type)) process.stderr.write(`${qualityIgnoredWarning}\n`);
  const created =
    target === undefined
      ? []
      : target.direct
        ? await prepareFolders([], [target.path])
        : await prepareFolders([dirname(target.path)]);
  const stop = stopSignal();
  try {
    return await withEngine(config, async (engine) => {
      const ready = await engine.ensure({ signal: stop.signal });
      warnDrift(ready.record, ready.drift);
      const tooBig = oversizeMessage(bytes.length, ready.record, backendSpecOf(config), name);
      if (tooBig) return fail(new AciimgError("E_BAD_INPUT", tooBig));
      const work = engine.beginWork();
      try {
        let response;
        try {
          response = await engine.call({ ...plan.requestFor(type), body: bytes, signal: stop.signal });
        } catch (error) {
          const refusal = refusalOf(error, name, ready.record);
          if (refusal instanceof AciimgError && refusal !== error) return fail(refusal);
          throw refusal;
        }
        if (response.status >= 400) {
          return fail(
            new AciimgError(
              "E_IMAGE",
              `the backend refused the image from stdin (${response.status}): ${await readResponseText(response.body)}`,
            ),
          );
        }
        const warning = framesWarning(response.headers, () => bytes);
        if (warning && !reporter) process.stderr.write(`aciimg: warning: the image on stdin: ${warning}\n`);
        if (!target || !reporter) {
          await pipeline(response.body, process.stdout);
          return 0;
        }
        const written = await writeAtomically(target.path, response.body, target.direct, config.requestTimeoutMs);
        const width = Number(response.headers["image-width"]);
        const height = Number(response.headers["image-height"]);
        const result: FileResult = {
          input: "-",
          output: target.shown,
          status: "ok",
          bytes: written,
          ...(width > 0 && height > 0 ? { width, height } : {}),
          ...(warning ? { warning } : {}),
          ms: Math.round(performance.now() - startedAt),
        };
        reporter.start(1);
        reporter.file(result);
        reporter.finish(summarize([result], startedAt, null));
        return 0;
      } finally {
        await work.end();
      }
    });
  } catch (error) {
    if (stop.signal.aborted) {
      const what =
        stop.received() === "EPIPE"
          ? "the image from stdin was not written in full"
          : "the image from stdin was not processed";
      throw new AciimgError("E_ABORTED", `stopped by ${stopWords(stop.received())}: ${what}`, { cause: error });
    }
    throw error;
  } finally {
    stop.dispose();
    await removeEmptyFolders(created);
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
    // not JSON: imaginary's 429 is text/plain (docs/reference/imaginary-api.md §1.8)
  }
  return text.trim() || "(empty answer)";
}

/** The backend's CPU count from GET /health, or undefined when it does not say. */
export async function backendCpus(record: BackendRecord): Promise<number | undefined> {
  // Our own client, not fetch(): fetch's first use loads Node's bundled undici, ~80 ms of start-up.
  const client = createImaginaryClient({
    endpoint: record.endpoint,
    apiKey: record.apiKey,
    tlsFingerprint: record.tlsFingerprint,
    connections: 1,
    connectTimeoutMs: 5000,
    headersTimeoutMs: 5000,
    bodyTimeoutMs: 5000,
  });
  try {
    const { cpus } = await client.health();
    return typeof cpus === "number" && Number.isInteger(cpus) && cpus > 0 ? cpus : undefined;
  } catch {
    return undefined;
  } finally {
    await client.close().catch(() => undefined);
  }
}
