/**
 * Turns the operation flags of `aciimg process` into one imaginary request: one operation becomes
 * `POST /<op>`, several become one `POST /pipeline` (imaginary-api.md §1.6), validated against the
 * catalogue before any backend is woken.
 */
import { AciimgError, usageError } from "../errors.js";
import { isOperationName, validateRequest, type OperationName } from "../imaginary/operations.js";
import { colourParam, white, type Rgb } from "./colour.js";
import { parseOutputType, parseParam, type CliOutputType } from "./flags.js";

type ParamValue = string | number | boolean;

export interface PlannedStep {
  operation: OperationName;
  params: Record<string, ParamValue>;
  /** Set when the step came from --width/--height, so the other one joins it. */
  fromDimension?: boolean;
  /** Set when the step came from --op, so --param may add to it. */
  generic?: boolean;
}

/** Collects operation flags in command-line order (commander calls arg parsers in argv order). */
export class StepCollector {
  readonly steps: PlannedStep[] = [];
  type: CliOutputType | undefined;
  quality: number | undefined;
  /** --keep-metadata: else every step strips EXIF, GPS, XMP and the profile (imaginary's stripmeta). */
  keepMetadata = false;
  /** --background: the colour transparent areas are flattened onto. */
  background: Rgb | undefined;

  add(operation: OperationName, params: Record<string, ParamValue>): void {
    this.steps.push({ operation, params });
  }

  dimension(key: "width" | "height", value: number): void {
    const last = this.steps.at(-1);
    if (last?.fromDimension && last.params[key] === undefined) last.params[key] = value;
    else this.steps.push({ operation: "resize", params: { [key]: value }, fromDimension: true });
  }

  op(name: string): void {
    const trimmed = name.trim();
    if (!isOperationName(trimmed) || trimmed === "pipeline" || trimmed === "info") {
      throw usageError("--op", "an image operation such as resize, crop, fit, blur, convert (see aciimg process --help)", name);
    }
    this.steps.push({ operation: trimmed, params: {}, generic: true });
  }

  param(value: string): void {
    const [key, raw] = parseParam("--param", value);
    const last = this.steps.at(-1);
    if (!last?.generic) throw usageError("--param", "KEY=VALUE after an --op NAME", value);
    if (key === "type") this.type = parseOutputType("--param type", raw);
    else last.params[key] = coerce(raw);
  }
}

/** --param values keep their JSON type in a pipeline: numbers and booleans as such. */
function coerce(raw: string): ParamValue {
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (raw === "true" || raw === "false") return raw === "true";
  return raw;
}

/**
 * The params every step gets unless it names them itself (--param): `stripmeta` unless
 * --keep-metadata, and a `background` to flatten onto for an output of `type` without alpha
 * (JPEG: left alone, transparent areas come out black) or when --background is given. Each step
 * is a save of its own on imaginary (§1.6), so each strips and flattens.
 */
function stepDefaults(collector: StepCollector, type: CliOutputType | undefined): Record<string, ParamValue> {
  const flatten = collector.background ?? (type === "jpeg" ? white : undefined);
  return {
    ...(collector.keepMetadata ? {} : { stripmeta: true }),
    ...(flatten === undefined ? {} : { background: colourParam(flatten) }),
  };
}

export interface ImagePlan {
  op: OperationName;
  query: URLSearchParams;
  /** The output format when one is asked for; else the input's format is kept. */
  outputType: CliOutputType | undefined;
  /** Human summary, e.g. "resize 300x200 → webp". */
  describe: string;
}

/** Builds and validates the request. Fails with E_USAGE when there is nothing to do or the catalogue rejects it. */
export function planRequest(collector: StepCollector): ImagePlan {
  const steps = collector.steps.map((s) => ({ operation: s.operation, params: { ...s.params } }));
  if (steps.length === 0) {
    if (collector.type === undefined) {
      throw new AciimgError("E_USAGE", "process: nothing to do: give an operation such as --resize 300x200 or --type webp (see aciimg process --help)");
    }
    steps.push({ operation: "convert", params: {} });
  }
  const last = steps[steps.length - 1] as (typeof steps)[number];
  if (collector.type !== undefined) last.params.type = collector.type;
  if (collector.quality !== undefined) last.params.quality = collector.quality;
  const defaults = stepDefaults(collector, collector.type);
  for (const step of steps) for (const [key, value] of Object.entries(defaults)) step.params[key] ??= value;

  let op: OperationName;
  const query = new URLSearchParams();
  if (steps.length === 1) {
    op = last.operation;
    for (const [key, value] of Object.entries(last.params)) query.set(key, String(value));
  } else {
    op = "pipeline";
    // imaginary's pipeline names the image watermark "watermarkImage" (imaginary-api.md §1.6).
    const operations = steps.map((s) => ({ operation: s.operation === "watermarkimage" ? "watermarkImage" : s.operation, params: s.params }));
    query.set("operations", JSON.stringify(operations));
  }
  const checked = validateRequest(op, query);
  if (!checked.ok) throw new AciimgError("E_USAGE", `process: the backend would refuse this request: ${checked.message}`);
  const describe = steps.map((s) => [s.operation, ...Object.entries(s.params).map(([k, v]) => `${k}=${String(v)}`)].join(" ")).join(" | ");
  return { op, query, outputType: collector.type, describe };
}
