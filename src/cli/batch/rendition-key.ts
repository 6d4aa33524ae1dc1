/**
 * The key an output is made for (docs/cli.md "Incremental runs"): the input's content, the request
 * and the producer (input-facts.ts producersOf). The record and the shared cache both use it. Two
 * parts of a request are left out, because they change no byte of the output:
 * - `failon`: it decides whether an input fails, not what is written;
 * - an encoder param the output's format does not read (`--quality` for a PNG, `--mozjpeg` for a
 *   WebP): changing it redoes only the outputs it changes.
 */
import { createHash } from "node:crypto";
import { failOnParam } from "../../protocol/fail-on.js";
import type { OutputType } from "../../protocol/output-types.js";

/**
 * The encoder params each output format's encoder reads on neither backend: the built-in one
 * (backend/encode.ts, checked against its bytes in backend-encode.test.ts) and imaginary's (bimg).
 * A PNG's `quality` is read only with `palette` (its quantisation): it is left out only without.
 */
export const ignoredEncoderParams: Record<OutputType, readonly string[]> = {
  jpeg: ["compression", "palette", "lossless", "effort"],
  png: ["quality", "mozjpeg", "lossless"],
  webp: ["compression", "interlace", "palette", "mozjpeg"],
  avif: ["compression", "interlace", "palette", "mozjpeg"],
  tiff: ["interlace", "palette", "mozjpeg", "lossless", "effort"],
};

/** The key of an output made by `producer` of an input whose content's sha256 is `inputHash`. */
export function renditionKey(inputHash: string, request: { op: string; query: URLSearchParams }, producer: string) {
  // JSON of ["aciimg-rendition/1", inputHash, op, query, producer], its tail made once per request
  // and producer: the plan makes one request per rendition, used by every input.
  let tails = requestTails.get(request);
  if (tails === undefined) requestTails.set(request, (tails = new Map()));
  let tail = tails.get(producer);
  if (tail === undefined) {
    tail = JSON.stringify([request.op, keyedQuery(request.query), producer]).slice(1);
    tails.set(producer, tail);
  }
  return createHash("sha256")
    .update(`["aciimg-rendition/1",${JSON.stringify(inputHash)},${tail}`)
    .digest("hex");
}

const requestTails = new WeakMap<object, Map<string, string>>();

/** The query's params that shape the output, sorted: in a pipeline, in each of its steps. */
function keyedQuery(query: URLSearchParams): Array<[string, string]> {
  const kept = [...query].filter(
    ([key]) => key !== failOnParam && isRead(key, query.get("type"), query.get("palette")),
  );
  const operations = query.get("operations");
  const steps = operations === null ? undefined : pipelineSteps(operations);
  return kept
    .map(([key, value]): [string, string] =>
      key === "operations" && steps !== undefined ? [key, steps] : [key, value],
    )
    .sort(([a], [b]) => (a < b ? -1 : 1));
}

/**
 * A pipeline's `operations` with each step's unread encoder params left out (every step carries
 * the output's; docs/cli.md). The same text when there are none, so keys made before stay valid.
 */
function pipelineSteps(operations: string): string | undefined {
  let steps: unknown;
  try {
    steps = JSON.parse(operations);
  } catch {
    return undefined;
  }
  if (!Array.isArray(steps)) return undefined;
  let isChanged = false;
  for (const step of steps as Array<{ params?: Record<string, unknown> }>) {
    const params = step?.params;
    if (typeof params !== "object" || params === null) continue;
    for (const key of Object.keys(params)) {
      if (isRead(key, params.type, params.palette)) continue;
      delete params[key];
      isChanged = true;
    }
  }
  return isChanged ? JSON.stringify(steps) : undefined;
}

/** Whether the encoder of an output of `type` (with `palette` asked or not) reads the param `key`. */
function isRead(key: string, type: unknown, palette: unknown): boolean {
  if (typeof type !== "string" || !Object.hasOwn(ignoredEncoderParams, type)) return true;
  if (!ignoredEncoderParams[type as OutputType].includes(key)) return true;
  const isPalette =
    palette !== undefined && palette !== null && palette !== false && palette !== "false" && palette !== "0";
  return key === "quality" && type === "png" && isPalette;
}
