/**
 * /pipeline (docs/reference/imaginary-api.md §1.6): the checks imaginary's Pipeline() makes before running
 * anything, and our cost bounds on every step.
 */
import { checkCostBounds } from "./bounds.js";
import { isPipelineName, notServed, opError, specOf } from "./catalogue.js";
import { coerce, type CoercedOptions } from "./coerce.js";
import { goQuote, goValue, paramError } from "./go-format.js";
import { paramSpecs, reject, type Checked, type ParamName, type PipelineStep, type RawPipelineStep } from "./params.js";
import { decodeOperations } from "./pipeline-json.js";

/** Parses the `operations` JSON of /pipeline with imaginary's rules and messages (§1.6). */
export function parsePipeline(json: string | null): Checked<PipelineStep[]> {
  let raw: RawPipelineStep[] = [];
  if (json !== null) {
    const decoded = decodeOperations(json);
    if (typeof decoded === "string") {
      return reject(400, `Error while processing parameters, ${paramError("operations", goQuote(json), decoded)}`);
    }
    raw = decoded;
  }
  return checkPipeline(raw);
}

/** The checks Pipeline() makes before running anything: count, names, per-step params. */
export function checkPipeline(raw: RawPipelineStep[]): Checked<PipelineStep[]> {
  if (raw.length === 0) return opError("Missing or invalid pipeline operations JSON");
  if (raw.length > 10) return opError("Maximum allowed pipeline operations exceeded");
  const steps: PipelineStep[] = [];
  for (const step of raw) {
    if (!isPipelineName(step.operation)) return opError(`Unsupported operation name: ${step.operation}`);
    if (specOf(step.operation).unserved) return notServed;
    // buildParamsFromOperation: same coercers, JSON-typed values; `type` is not validated here.
    const params: CoercedOptions = {};
    for (const [key, value] of Object.entries(step.params)) {
      if (!(key in paramSpecs) || key === "operations") continue;
      const error = coerce(params, key as ParamName, value);
      if (error !== undefined) return opError(paramError(key, goValue(value), error));
    }
    delete params.badType;
    steps.push({ operation: step.operation, ...(step.ignore_failure ? { ignore_failure: true } : {}), params });
  }
  // Ours, after imaginary's own checks of every step.
  for (const step of steps) {
    const tooCostly = checkCostBounds(step.operation, step.params);
    if (tooCostly) return tooCostly;
  }
  return { ok: true, value: steps };
}
