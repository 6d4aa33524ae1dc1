/**
 * /pipeline (docs/reference/imaginary-api.md §1.6): the checks imaginary's Pipeline() makes before running
 * anything, and our cost bounds on every step.
 */
import { checkCostBounds } from "./bounds.js";
import { isPipelineName, notServed, opError, specOf } from "./catalogue.js";
import { coerce, knownParams, type CoercedOptions, type KnownParam } from "./coerce.js";
import { goQuote, goValue, paramError } from "./go-format.js";
import { reject, type Checked, type Dialect, type PipelineStep, type RawPipelineStep } from "./params.js";
import { decodeOperations } from "./pipeline-json.js";

/** Parses the `operations` JSON of /pipeline with imaginary's rules and messages (§1.6), by `dialect`'s. */
export function parsePipeline(json: string | null, dialect: Dialect = "imaginary"): Checked<PipelineStep[]> {
  let raw: RawPipelineStep[] = [];
  if (json !== null) {
    const decoded = decodeOperations(json);
    if (typeof decoded === "string") {
      return reject(400, `Error while processing parameters, ${paramError("operations", goQuote(json), decoded)}`);
    }
    raw = decoded;
  }
  return checkPipeline(raw, dialect);
}

/** The checks Pipeline() makes before running anything: count, names, per-step params (`dialect`'s). */
export function checkPipeline(raw: RawPipelineStep[], dialect: Dialect = "imaginary"): Checked<PipelineStep[]> {
  const known = new Set<string>(knownParams(dialect));
  if (raw.length === 0) return opError("Missing or invalid pipeline operations JSON");
  if (raw.length > 10) return opError("Maximum allowed pipeline operations exceeded");
  const steps: PipelineStep[] = [];
  for (const step of raw) {
    if (!isPipelineName(step.operation)) return opError(`Unsupported operation name: ${step.operation}`);
    if (specOf(step.operation).unserved) return notServed;
    // buildParamsFromOperation: same coercers, JSON-typed values; `type` is not validated here.
    const params: CoercedOptions = {};
    for (const [key, value] of Object.entries(step.params)) {
      if (!known.has(key) || key === "operations") continue;
      const error = coerce(params, key as KnownParam, value, dialect);
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
