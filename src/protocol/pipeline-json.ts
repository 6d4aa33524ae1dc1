/**
 * Decoding the `operations` JSON of /pipeline the way imaginary's Go does (json.Decoder with
 * DisallowUnknownFields, docs/reference/imaginary-api.md §1.6), with Go's error texts. Names and params are
 * checked afterwards (pipeline.ts).
 */
import { goQuote } from "./go-format.js";
import type { RawPipelineStep } from "./params.js";

/** The decoded steps, or Go's error text. */
export function decodeOperations(data: string): RawPipelineStep[] | string {
  if (data.length < 2) return []; // params.go: "cannot be valid JSON"
  const parsed = parseFirstJsonValue(data);
  if (typeof parsed === "string") return parsed;
  const root = parsed.value;
  if (root === null) return [];
  if (!Array.isArray(root))
    return `json: cannot unmarshal ${jsonKind(root)} into Go value of type main.PipelineOperations`;
  const steps: RawPipelineStep[] = [];
  for (const item of root) {
    if (item === null) {
      steps.push({ operation: "", ignore_failure: false, params: {} });
      continue;
    }
    if (typeof item !== "object" || Array.isArray(item)) {
      return `json: cannot unmarshal ${jsonKind(item)} into Go value of type main.PipelineOperation`;
    }
    const step = decodeStep(item as Record<string, unknown>);
    if (typeof step === "string") return step;
    steps.push(step);
  }
  return steps;
}

function decodeStep(item: Record<string, unknown>): RawPipelineStep | string {
  const step: RawPipelineStep = { operation: "", ignore_failure: false, params: {} };
  for (const [key, value] of Object.entries(item)) {
    // encoding/json matches struct fields case-insensitively.
    const field = ["operation", "ignore_failure", "params"].find((f) => f === key.toLowerCase());
    const typeError = (goType: string): string =>
      `json: cannot unmarshal ${jsonKind(value)} into Go struct field PipelineOperation.${field} of type ${goType}`;
    if (field === undefined) return `json: unknown field ${goQuote(key)}`;
    if (value === null) continue;
    if (field === "operation") {
      if (typeof value !== "string") return typeError("string");
      step.operation = value;
    } else if (field === "ignore_failure") {
      if (typeof value !== "boolean") return typeError("bool");
      step.ignore_failure = value;
    } else if (typeof value !== "object" || Array.isArray(value)) return typeError("map[string]interface {}");
    else step.params = value as Record<string, unknown>;
  }
  return step;
}

function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return "array";
  if (v === null) return "null";
  return typeof v === "object" ? "object" : typeof v === "boolean" ? "bool" : typeof v;
}

/** JSON.parse of the first value only (Go's Decoder ignores what follows), Go-like error texts. */
function parseFirstJsonValue(data: string): { value: unknown } | string {
  try {
    return { value: JSON.parse(data) as unknown };
  } catch (error) {
    const message = error instanceof Error ? error.message : "";
    const at = /position (\d+)/.exec(message);
    const pos = at ? Number(at[1]) : -1;
    if (/after JSON/.test(message) && pos > 0) return parseFirstJsonValue(data.slice(0, pos));
    if (/end of JSON|Unterminated/.test(message) || pos >= data.trimEnd().length) return "unexpected EOF";
    const token = /Unexpected token '(.)'/.exec(message)?.[1] ?? data[pos] ?? "";
    return `invalid character '${token}' looking for beginning of value`;
  }
}
