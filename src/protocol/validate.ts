/**
 * Everything imaginary checks of a request before touching the image bytes, so a bad request is
 * rejected without waking a backend.
 */
import { checkCostBounds } from "./bounds.js";
import { checkRequired, checkWritable, notServed, operationSpecs, type OperationName } from "./catalogue.js";
import { parseImageOptions } from "./coerce.js";
import type { OperationSpec } from "./operation-spec.js";
import type { Checked, Dialect, ImageOptions, PipelineStep } from "./params.js";
import { checkPipeline } from "./pipeline.js";

/**
 * Everything imaginary checks before touching the image bytes for `op`: param coercion, `type`
 * validity, required params (with imaginary's exact "Missing required param…" messages), and for
 * `pipeline` the operations JSON; then our bounds on costly params (bounds.ts, 422). By imaginary's
 * rules unless `dialect` says the request is for the built-in backend (params.ts).
 */
export function validateRequest(
  op: OperationName,
  query: URLSearchParams,
  dialect: Dialect = "imaginary",
): Checked<{ options: ImageOptions; pipeline?: PipelineStep[] }> {
  // An unserved operation answers like a disabled endpoint, whatever its params (§1.8).
  if ((operationSpecs[op] as OperationSpec).unserved) return notServed;
  const parsed = parseImageOptions(query, dialect);
  if (!parsed.ok) return parsed;
  const options = parsed.value;
  if (op === "pipeline") {
    const steps = checkPipeline(options.operations ?? [], dialect);
    if (!steps.ok) return steps;
    return { ok: true, value: { options, pipeline: steps.value } };
  }
  // `auto` may resolve to nothing (no match in Accept); the backend re-checks /convert then.
  const problem = checkRequired(op, options) ?? checkWritable(op, options) ?? checkCostBounds(op, options);
  return problem ?? { ok: true, value: { options } };
}
