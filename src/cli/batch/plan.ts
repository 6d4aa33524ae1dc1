/**
 * Turns the operation flags of `aciimg process` into one imaginary request: one operation becomes
 * `POST /<op>`, several become one `POST /pipeline` (docs/reference/imaginary-api.md §1.6), validated against the
 * catalogue before any backend is woken.
 */
import { AciimgError, usageError } from "../../errors.js";
import { isOperationName, validateRequest, type OperationName } from "../../protocol/operations.js";
import { colourParam, white, type Rgb } from "../colour.js";
import { parseOutputType, parseParam, type CliOutputType } from "../flags.js";

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
  /** --progressive, --mozjpeg, --lossless, --effort (encoder-flags.ts): params of every step, as type and quality. */
  encoder: Record<string, ParamValue> = {};

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
      throw usageError(
        "--op",
        "an image operation such as resize, crop, fit, blur, convert (see aciimg process --help)",
        name,
      );
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
  /** The request for an output of `type`; undefined keeps the input's format, as imaginary does (§4). */
  requestFor(type: CliOutputType | undefined): { op: OperationName; query: URLSearchParams };
  /** The format asked for (--type, or -o's extension); else each input's own, or its default (output-types.ts). */
  outputType: CliOutputType | undefined;
  /** --quality, when given. */
  quality: number | undefined;
  /** Human summary, e.g. "resize 300x200 → webp". */
  describe: string;
}

/** Builds and validates the request. Fails with E_USAGE when there is nothing to do or the catalogue rejects it. */
export function planRequest(collector: StepCollector): ImagePlan {
  const steps = collector.steps.map((s) => ({ operation: s.operation, params: { ...s.params } }));
  if (steps.length === 0) {
    if (collector.type === undefined) {
      throw new AciimgError(
        "E_USAGE",
        "process: nothing to do: give an operation such as --resize 300x200 or --type webp (see aciimg process --help)",
      );
    }
    steps.push({ operation: "convert", params: {} });
  }
  const { type: asked, quality } = collector;
  const built = new Map<CliOutputType | undefined, { op: OperationName; query: URLSearchParams }>();
  const requestFor = (type: CliOutputType | undefined): { op: OperationName; query: URLSearchParams } => {
    let request = built.get(type);
    if (request === undefined) {
      request = buildRequest(steps, type, quality, stepDefaults(collector, type), collector.encoder);
      built.set(type, request);
    }
    return request;
  };
  const { op, query } = requestFor(asked);
  // The built-in backend's rules: what imaginary cannot do is refused for aci by backend-formats.ts.
  const checked = validateRequest(op, query, "built-in");
  if (!checked.ok)
    throw new AciimgError("E_USAGE", `process: the backend would refuse this request: ${checked.message}`);
  const describe = steps
    .map((s) => [s.operation, ...Object.entries(s.params).map(([k, v]) => `${k}=${String(v)}`)].join(" "))
    .join(" | ");
  const shown = asked === undefined ? describe : `${describe} → ${asked}`;
  return { requestFor, outputType: asked, quality, describe: shown };
}

/**
 * One operation as itself, several as one /pipeline. The type, quality and encoder params go on every step: each
 * step of imaginary's pipeline encodes its result, by default in the format it was given, so an
 * SVG or GIF input failed at the first step ("Unsupported image output type") when only the last
 * named the type, and a JPEG was encoded at the default quality 75 between steps (§1.6, §4).
 */
function buildRequest(
  steps: ReadonlyArray<{ operation: OperationName; params: Record<string, ParamValue> }>,
  type: CliOutputType | undefined,
  quality: number | undefined,
  defaults: Record<string, ParamValue>,
  encoder: Record<string, ParamValue>,
): { op: OperationName; query: URLSearchParams } {
  const output = { ...encoder, ...(type === undefined ? {} : { type }), ...(quality === undefined ? {} : { quality }) };
  const withOutput = steps.map((s) => {
    const params: Record<string, ParamValue> = { ...s.params, ...output };
    for (const [key, value] of Object.entries(defaults)) params[key] ??= value;
    return { operation: s.operation, params };
  });
  const query = new URLSearchParams();
  if (withOutput.length === 1) {
    const only = withOutput[0] as (typeof withOutput)[number];
    for (const [key, value] of Object.entries(only.params)) query.set(key, String(value));
    return { op: only.operation, query };
  }
  // imaginary's pipeline names the image watermark "watermarkImage" (docs/reference/imaginary-api.md §1.6).
  const operations = withOutput.map((s) => ({
    operation: s.operation === "watermarkimage" ? "watermarkImage" : s.operation,
    params: s.params,
  }));
  query.set("operations", JSON.stringify(operations));
  return { op: "pipeline", query };
}
