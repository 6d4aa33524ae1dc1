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

/** A size flag given a list (`--width 320,640,1280`): one rendition per value. */
export interface SizeList {
  key: "width" | "height";
  values: readonly number[];
  /** The step the values go into. */
  step: PlannedStep;
}

/** Collects operation flags in command-line order (commander calls arg parsers in argv order). */
export class StepCollector {
  readonly steps: PlannedStep[] = [];
  /** --type: one format, or a list (`--type webp,jpeg`), one rendition each; empty: the input's own. */
  types: CliOutputType[] = [];
  /** --width or --height given a list. */
  sizes: SizeList | undefined;
  quality: number | undefined;
  /** --keep-metadata: else every step strips EXIF, GPS, XMP and the profile (imaginary's stripmeta). */
  keepMetadata = false;
  /** --background: the colour transparent areas are flattened onto. */
  background: Rgb | undefined;
  /** --progressive, --mozjpeg, --lossless, --effort (encoder-flags.ts): params of every step, as type and quality. */
  encoder: Record<string, ParamValue> = {};
  /** --upscale: sizes past an input's own are made by enlarging it (renditions.ts). */
  upscale = false;

  add(operation: OperationName, params: Record<string, ParamValue>): void {
    this.steps.push({ operation, params });
  }

  /** The one type asked for, when one is; setting it asks for that one. */
  get type(): CliOutputType | undefined {
    return this.types.length === 1 ? this.types[0] : undefined;
  }

  set type(type: CliOutputType | undefined) {
    this.types = type === undefined ? [] : [type];
  }

  dimension(key: "width" | "height", values: readonly number[]): void {
    const last = this.steps.at(-1);
    const first = values[0] as number;
    let step: PlannedStep;
    if (last?.fromDimension && last.params[key] === undefined) {
      last.params[key] = first;
      step = last;
    } else {
      step = { operation: "resize", params: { [key]: first }, fromDimension: true };
      this.steps.push(step);
    }
    if (values.length < 2) return;
    if (this.sizes !== undefined)
      throw usageError(`--${key}`, `one size when --${this.sizes.key} is a list`, values.join(","));
    this.sizes = { key, values, step };
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

/** One output of an input: its format and, when --width or --height is a list, its size. */
export interface Rendition {
  type: CliOutputType | undefined;
  /** The value of the listed size flag for this output; undefined when no size is a list. */
  size?: number;
  /** --upscale, for a size past the input's own: the size it is enlarged to (imaginary's /enlarge). */
  enlarge?: { width: number; height: number };
}

export interface ImagePlan {
  /**
   * The request for an output of `type` (undefined keeps the input's format, as imaginary does, §4)
   * and, with a size list, of that `size`; enlarged to `enlarge` in place of the resize (--upscale).
   */
  requestFor(
    type: CliOutputType | undefined,
    size?: number,
    enlarge?: Rendition["enlarge"],
  ): { op: OperationName; query: URLSearchParams };
  /** The format asked for (--type, or -o's extension); else each input's own, or its default (output-types.ts). */
  outputType: CliOutputType | undefined;
  /** Every format asked for: --type's list; empty for the input's own. */
  outputTypes: readonly CliOutputType[];
  /**
   * The size flag (a list, or --width/--height alone): which, its values, and whether it resizes
   * the source itself (its step the first, and the only dimension in it), so the source's size
   * bounds it.
   */
  sizes: { key: "width" | "height"; values: readonly number[]; resizesSource: boolean } | undefined;
  /** --upscale: sizes past an input's own are enlarged to (then `sizes.resizesSource` holds). */
  upscale: boolean;
  /** --quality, when given. */
  quality: number | undefined;
  /** Human summary, e.g. "resize 300x200 → webp". */
  describe: string;
}

/** Builds and validates the request. Fails with E_USAGE when there is nothing to do or the catalogue rejects it. */
export function planRequest(collector: StepCollector): ImagePlan {
  const listed = collector.sizes ?? singleSize(collector.steps);
  const sizeStep = listed === undefined ? -1 : collector.steps.indexOf(listed.step);
  const steps = collector.steps.map((s) => ({ operation: s.operation, params: { ...s.params } }));
  if (steps.length === 0) {
    if (collector.types.length === 0) {
      throw new AciimgError(
        "E_USAGE",
        "process: nothing to do: give an operation such as --resize 300x200 or --type webp (see aciimg process --help)",
      );
    }
    steps.push({ operation: "convert", params: {} });
  }
  const { types, quality } = collector;
  const built = new Map<string, { op: OperationName; query: URLSearchParams }>();
  const requestFor: ImagePlan["requestFor"] = (type, size, enlarge) => {
    const memo = `${type}|${size}|${enlarge?.width}x${enlarge?.height}`;
    let request = built.get(memo);
    if (request === undefined) {
      // Enlarged: the size step (the first: renditions.ts) becomes /enlarge to the size worked out.
      const sizedStep = (s: (typeof steps)[number]) =>
        enlarge === undefined
          ? { ...s, params: { ...s.params, [listed?.key as string]: size as number } }
          : { operation: "enlarge" as const, params: { ...enlarge } };
      const sized =
        listed === undefined || size === undefined ? steps : steps.map((s, i) => (i === sizeStep ? sizedStep(s) : s));
      request = buildRequest(sized, type, quality, stepDefaults(collector, type), collector.encoder);
      built.set(memo, request);
    }
    return request;
  };
  for (const type of types.length === 0 ? [undefined] : types) {
    const { op, query } = requestFor(type, listed?.values[0]);
    // The built-in backend's rules: what imaginary cannot do is refused for aci by backend-formats.ts.
    const checked = validateRequest(op, query, "built-in");
    if (!checked.ok)
      throw new AciimgError("E_USAGE", `process: the backend would refuse this request: ${checked.message}`);
  }
  const describe = steps
    .map((s, i) => {
      const params = Object.entries(s.params).map(([k, v]) =>
        i === sizeStep && k === listed?.key ? `${k}=${listed.values.join(",")}` : `${k}=${String(v)}`,
      );
      return [s.operation, ...params].join(" ");
    })
    .join(" | ");
  const shown = types.length === 0 ? describe : `${describe} → ${types.join(",")}`;
  const resizesSource =
    listed !== undefined &&
    sizeStep === 0 &&
    listed.step.params[listed.key === "width" ? "height" : "width"] === undefined;
  if (collector.upscale && !resizesSource)
    throw new AciimgError(
      "E_USAGE",
      "--upscale: needs --width or --height as the first operation, without the other (the size it enlarges to)",
    );
  return {
    requestFor,
    outputType: collector.type,
    outputTypes: types,
    sizes: listed && {
      key: listed.key,
      values: listed.values,
      resizesSource,
    },
    upscale: collector.upscale,
    quality,
    describe: shown,
  };
}

/**
 * A --width or --height given alone (one value, no other dimension in its step), as a list of one:
 * its output is named and settled against the source's size as a listed one is.
 */
function singleSize(steps: readonly PlannedStep[]): SizeList | undefined {
  const step = steps.findLast((s) => s.fromDimension);
  if (step === undefined) return undefined;
  const { width, height } = step.params;
  if (typeof width === "number" && height === undefined) return { key: "width", values: [width], step };
  if (typeof height === "number" && width === undefined) return { key: "height", values: [height], step };
  return undefined;
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
