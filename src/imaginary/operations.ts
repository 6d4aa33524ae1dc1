/**
 * The operation catalogue: the single source of truth for imaginary's operations, their
 * parameters and validation (imaginary-api.md §1.4–§1.6). Used by the backend, the client,
 * the CLI and the HTTP surface. Adding an operation is one entry here.
 */
import { checkCostBounds } from "./bounds.js";

export const operationNames = [
  "resize", "fit", "enlarge", "extract", "crop", "smartcrop", "rotate", "autorotate", "flip", "flop",
  "thumbnail", "zoom", "convert", "blur", "watermark", "watermarkimage", "info", "pipeline",
] as const;
export type OperationName = (typeof operationNames)[number];

/** Output formats imaginary can write (imaginary-api.md §4). */
export type OutputType = "jpeg" | "png" | "webp" | "tiff";

/** Formats imaginary accepts in `type=` but cannot write: the op then fails (§1.5 /convert, §4). */
export type UnwritableType = "gif" | "svg" | "pdf";

/** Parsed, coerced image options (imaginary's ImageOptions). Absent = not given. */
export interface ImageOptions {
  width?: number; height?: number; top?: number; left?: number; areawidth?: number; areaheight?: number;
  quality?: number; compression?: number; rotate?: number; factor?: number; margin?: number; dpi?: number;
  textwidth?: number; opacity?: number; flip?: boolean; flop?: boolean; force?: boolean; embed?: boolean;
  nocrop?: boolean; noreplicate?: boolean; norotation?: boolean; noprofile?: boolean; stripmeta?: boolean;
  interlace?: boolean; palette?: boolean; speed?: number; text?: string; font?: string;
  color?: [number, number, number]; background?: [number, number, number]; image?: string;
  type?: OutputType | "auto"; gravity?: "centre" | "north" | "south" | "east" | "west" | "smart";
  colorspace?: "srgb" | "bw"; extend?: "black" | "white" | "copy" | "mirror" | "background" | "lastpixel";
  sigma?: number; minampl?: number; aspectratio?: string;
  /** `type` named a format imaginary parses but cannot write (gif/svg/pdf): the op fails (§4). */
  unwritableType?: UnwritableType;
  /** The decoded `operations` query param (any route decodes it; only /pipeline uses it, §1.6). */
  operations?: RawPipelineStep[];
}

/** A pipeline step as decoded from JSON, before its name and params are checked. */
export interface RawPipelineStep { operation: string; ignore_failure: boolean; params: Record<string, unknown> }

export interface PipelineStep {
  operation: Exclude<OperationName, "info" | "pipeline" | "watermarkimage"> | "watermarkImage";
  ignore_failure?: boolean;
  params: ImageOptions;
}

/** A rejection with imaginary's exact status and message. */
export interface Rejection { ok: false; status: number; message: string }
export type Checked<T> = { ok: true; value: T } | Rejection;

type ParamKind = "int" | "float" | "bool" | "string" | "color" | "type" | "gravity" | "colorspace" | "extend" | "operations";

/** One query parameter: its coercion kind (§1.4), a one-line description and imaginary's default. */
export interface ParamSpec { readonly kind: ParamKind; readonly description: string; readonly default?: string }

/** Every parameter imaginary coerces (params.go `paramTypeCoercions`); anything else is ignored. */
export const paramSpecs = {
  width: { kind: "int", description: "target width in px", default: "0 (auto)" },
  height: { kind: "int", description: "target height in px", default: "0 (auto)" },
  top: { kind: "int", description: "top of the extract/zoom area", default: "0" },
  left: { kind: "int", description: "left of the extract/zoom area", default: "0" },
  areawidth: { kind: "int", description: "width of the extract/zoom area" },
  areaheight: { kind: "int", description: "height of the extract/zoom area" },
  quality: { kind: "int", description: "JPEG/WebP quality 1-100", default: "75" },
  compression: { kind: "int", description: "PNG zlib level", default: "6" },
  rotate: { kind: "int", description: "degrees, rounded down to a multiple of 90" },
  margin: { kind: "int", description: "text watermark margin" },
  factor: { kind: "int", description: "zoom: pixel replication x(factor+1)" },
  dpi: { kind: "int", description: "text watermark DPI", default: "150" },
  textwidth: { kind: "int", description: "text watermark width", default: "image width / 6" },
  opacity: { kind: "float", description: "watermark opacity", default: "0.25" },
  flip: { kind: "bool", description: "mirror (bimg flip)" },
  flop: { kind: "bool", description: "mirror (bimg flop)" },
  nocrop: { kind: "bool", description: "resize/zoom/enlarge: do not crop" },
  noprofile: { kind: "bool", description: "do not embed an ICC profile" },
  norotation: { kind: "bool", description: "disable EXIF auto-rotation" },
  noreplicate: { kind: "bool", description: "do not tile the text watermark" },
  force: { kind: "bool", description: "exact width x height, ignoring the aspect ratio" },
  embed: { kind: "bool", description: "embed into width x height" },
  stripmeta: { kind: "bool", description: "strip EXIF/metadata" },
  text: { kind: "string", description: "watermark text" },
  image: { kind: "string", description: "watermark image URL (watermarkimage)" },
  font: { kind: "string", description: "Pango font", default: "sans 10" },
  type: { kind: "type", description: "output: jpeg png webp tiff auto", default: "input format" },
  color: { kind: "color", description: "text watermark colour R,G,B" },
  colorspace: { kind: "colorspace", description: "srgb or bw", default: "srgb" },
  gravity: { kind: "gravity", description: "north south east west smart centre", default: "centre" },
  background: { kind: "color", description: "flatten/extend colour R,G,B" },
  extend: { kind: "extend", description: "black white copy mirror background lastpixel", default: "copy" },
  sigma: { kind: "float", description: "gaussian blur sigma" },
  minampl: { kind: "float", description: "gaussian blur minimum amplitude" },
  operations: { kind: "operations", description: "pipeline operations JSON" },
  interlace: { kind: "bool", description: "progressive/interlaced output" },
  aspectratio: { kind: "string", description: "W:H, used when only one of width/height is given" },
  palette: { kind: "bool", description: "PNG 8-bit quantisation" },
  speed: { kind: "int", description: "AVIF/PNG encoder effort" },
} as const satisfies Record<string, ParamSpec>;
export type ParamName = keyof typeof paramSpecs;

// Params every image op passes to bimg (imaginary's BimgOptions).
const common = ["type", "quality", "compression", "palette", "speed", "interlace", "stripmeta", "noprofile",
  "norotation", "colorspace", "background", "extend", "sigma", "minampl", "flip", "flop", "rotate", "gravity",
  "force", "embed", "aspectratio"] as const satisfies readonly ParamName[];

/** What an operation does and which params apply to it (for --help and docs). */
export interface OperationSpec {
  readonly description: string;
  readonly params: readonly ParamName[];
  /** Human summary of the required params. */
  readonly requires?: string;
}

export const operationSpecs: Record<OperationName, OperationSpec> = {
  resize: { description: "resize keeping the aspect ratio", params: ["width", "height", "nocrop", ...common], requires: "width or height" },
  fit: { description: "fit inside width x height", params: ["width", "height", ...common], requires: "width and height" },
  enlarge: { description: "enlarge (crops unless nocrop)", params: ["width", "height", "nocrop", ...common], requires: "width and height" },
  extract: { description: "extract an area", params: ["top", "left", "areawidth", "areaheight", ...common], requires: "areawidth and areaheight" },
  crop: { description: "crop to width x height", params: ["width", "height", ...common], requires: "width or height" },
  smartcrop: { description: "crop around the most interesting area", params: ["width", "height", ...common], requires: "width or height" },
  rotate: { description: "rotate by a multiple of 90 degrees", params: [...common], requires: "rotate" },
  autorotate: { description: "rotate by the EXIF orientation only", params: [] },
  flip: { description: "mirror (bimg flip)", params: [...common] },
  flop: { description: "mirror (bimg flop)", params: [...common] },
  thumbnail: { description: "thumbnail (distorts when both sizes are given)", params: ["width", "height", ...common], requires: "width or height" },
  zoom: { description: "zoom x(factor+1)", params: ["factor", "top", "left", "areawidth", "areaheight", "nocrop", ...common], requires: "factor" },
  convert: { description: "convert to another format", params: [...common], requires: "type" },
  blur: { description: "gaussian blur", params: [...common], requires: "sigma or minampl" },
  watermark: { description: "text watermark", params: ["text", "font", "margin", "dpi", "textwidth", "opacity", "noreplicate", "color", ...common], requires: "text" },
  watermarkimage: { description: "image watermark (not served: SSRF)", params: ["image", "top", "left", "opacity", ...common], requires: "image" },
  info: { description: "image metadata as JSON", params: [] },
  pipeline: { description: "up to 10 operations in a row", params: ["operations"], requires: "operations" },
};

export function isOperationName(name: string): name is OperationName {
  return (operationNames as readonly string[]).includes(name);
}

const pipelineNames = ["crop", "resize", "enlarge", "extract", "rotate", "autorotate", "flip", "flop", "thumbnail",
  "zoom", "convert", "watermark", "watermarkImage", "blur", "smartcrop", "fit"] as const;

// ---- coercion (params.go) -------------------------------------------------------------------

const unsupported = "unsupported value";
const goFloatSyntax = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)$/i;

/** strconv.ParseFloat then math.Abs, or Go's error text. */
function parseGoFloat(s: string): number | string {
  if (s === "") return 0;
  if (!goFloatSyntax.test(s)) return `strconv.ParseFloat: parsing ${goQuote(s)}: invalid syntax`;
  const v = Math.abs(Number(s.replace(/^([+-]?)inf(inity)?$/i, "$1Infinity").replace(/^[+-]?nan$/i, "NaN")));
  if (v === Infinity && !/inf/i.test(s)) return `strconv.ParseFloat: parsing ${goQuote(s)}: value out of range`;
  // Go would turn ±Inf/NaN into an undefined int; refusing them keeps the backend sane.
  if (!Number.isFinite(v)) return `strconv.ParseFloat: parsing ${goQuote(s)}: invalid syntax`;
  return v;
}
const goBools: Record<string, boolean> = { 1: true, t: true, T: true, TRUE: true, true: true, True: true,
  0: false, f: false, F: false, FALSE: false, false: false, False: false };

/** parseColor: each of "R,G,B" as uint8 clamped to 255, non-numbers 0; fewer than 3 values → unused. */
function parseColor(s: string): [number, number, number] | undefined {
  if (s === "") return undefined;
  const v = s.split(",").map((n) => (/^\d+$/.test(n.trim()) ? Math.min(Number(n.trim()), 255) : 0));
  return v.length > 2 ? [v[0] ?? 0, v[1] ?? 0, v[2] ?? 0] : undefined;
}
const gravities = new Set(["north", "south", "east", "west", "smart"]);
const extends_ = new Set(["black", "white", "copy", "background", "lastpixel"]);
const writable = new Set(["jpeg", "png", "webp", "tiff"]);
const unwritable = new Set(["gif", "svg", "pdf"]);

/**
 * Coerces one value into `out`. Query values are strings; pipeline values are JSON values, for
 * which Go's coercers accept numbers as-is (truncated, sign kept) and strings via the query rules.
 * Returns an error text, or undefined.
 */
function coerce(out: ImageOptions, name: ParamName, value: unknown): string | undefined {
  const o = out as Record<string, unknown>;
  const kind: ParamKind = paramSpecs[name].kind;
  switch (kind) {
    case "int": {
      if (typeof value === "number") { o[name] = Math.trunc(value); return undefined; }
      if (typeof value !== "string") return unsupported;
      const f = parseGoFloat(value);
      if (typeof f === "string") return f;
      o[name] = Math.floor(f + 0.5);
      return undefined;
    }
    case "float": {
      if (typeof value === "number") { o[name] = value; return undefined; }
      if (typeof value !== "string") return unsupported;
      const f = parseGoFloat(value);
      if (typeof f === "string") return unsupported;
      o[name] = f;
      return undefined;
    }
    case "bool": {
      if (typeof value === "boolean") { o[name] = value; return undefined; }
      if (typeof value !== "string") return unsupported;
      if (value === "") { o[name] = false; return undefined; }
      const b = goBools[value];
      if (b === undefined) return unsupported;
      o[name] = b;
      return undefined;
    }
    case "operations":
      if (typeof value !== "string") return unsupported;
      return decodeOperations(out, value);
    default: {
      if (typeof value !== "string") return unsupported;
      const v = value.trim().toLowerCase();
      if (kind === "string") o[name] = value;
      else if (kind === "color") o[name] = parseColor(value);
      else if (kind === "gravity") o[name] = gravities.has(v) ? v : "centre";
      else if (kind === "colorspace") o[name] = value === "bw" ? "bw" : "srgb";
      else if (kind === "extend") o[name] = extends_.has(v) ? v : "mirror";
      else if (value === "auto") o[name] = "auto";
      else if (writable.has(value.toLowerCase())) o[name] = value.toLowerCase();
      else if (unwritable.has(value.toLowerCase())) o.unwritableType = value.toLowerCase();
      else if (value !== "") o.badType = true; // checked after coercion, as imaginary does (§1.3)
      return undefined;
    }
  }
}

function paramError(name: string, shown: string, error: string): string {
  return `error while processing parameter "${name}" with value ${shown}, error: ${error}`;
}

/**
 * Coerces query parameters as imaginary does (int = |float| rounded, bool = Go ParseBool,
 * first value wins, unknown ignored). Rejection: 400 "Error while processing parameters, …".
 */
export function parseImageOptions(query: URLSearchParams): Checked<ImageOptions> {
  const out: ImageOptions & { badType?: boolean } = {};
  for (const name of Object.keys(paramSpecs) as ParamName[]) {
    const value = query.get(name);
    if (value === null) continue;
    const error = coerce(out, name, value);
    if (error !== undefined) {
      return reject(400, `Error while processing parameters, ${paramError(name, goQuote(value), error)}`);
    }
  }
  if (out.badType) return reject(400, "Unsupported output image format");
  return { ok: true, value: out };
}

// ---- checks done inside the operation (image.go), prefixed by the handler ----------------

const opError = (message: string): Rejection => reject(400, `Error while processing the image: ${message}`);

/** The "Missing required param…" rejection of `op` (image.go), or undefined when satisfied. */
export function checkRequired(op: OperationName | "watermarkImage", o: ImageOptions): Rejection | undefined {
  const n = (v: number | undefined): number => v ?? 0;
  switch (op) {
    case "resize": case "crop": case "smartcrop":
      return n(o.width) === 0 && n(o.height) === 0 ? opError("Missing required param: height or width") : undefined;
    case "thumbnail":
      return n(o.width) === 0 && n(o.height) === 0 ? opError("Missing required params: width or height") : undefined;
    case "fit": case "enlarge":
      return n(o.width) === 0 || n(o.height) === 0 ? opError("Missing required params: height, width") : undefined;
    case "extract":
      return n(o.areawidth) === 0 || n(o.areaheight) === 0 ? opError("Missing required params: areawidth or areaheight") : undefined;
    case "rotate":
      return n(o.rotate) === 0 ? opError("Missing required param: rotate") : undefined;
    case "zoom":
      if (n(o.factor) === 0) return opError("Missing required param: factor");
      return (n(o.top) > 0 || n(o.left) > 0) && n(o.areawidth) === 0 && n(o.areaheight) === 0
        ? opError("Missing required params: areawidth, areaheight") : undefined;
    case "convert":
      return o.type === undefined && o.unwritableType === undefined ? opError("Missing required param: type") : undefined;
    case "watermark":
      return !o.text ? opError("Missing required param: text") : undefined;
    case "watermarkimage": case "watermarkImage":
      return !o.image ? opError("Missing required param: image") : undefined;
    case "blur":
      return n(o.sigma) === 0 && n(o.minampl) === 0 ? opError("Missing required param: sigma or minampl") : undefined;
    default:
      return undefined;
  }
}

/** bimg refuses to save gif/svg/pdf (§4); info and autorotate never look at `type`. */
export function checkWritable(op: OperationName | "watermarkImage", o: ImageOptions): Rejection | undefined {
  if (op === "info" || op === "autorotate" || op === "pipeline") return undefined;
  return o.unwritableType !== undefined ? opError("Unsupported image output type") : undefined;
}

/** `type=auto`: the first of image/webp, image/png, image/jpeg in `Accept` order (§1.7). */
export function negotiateType(accept: string): OutputType | undefined {
  for (const part of accept.split(",")) {
    const media = (part.split(";")[0] ?? "").trim().toLowerCase();
    if (media === "image/webp") return "webp";
    if (media === "image/png") return "png";
    if (media === "image/jpeg") return "jpeg";
  }
  return undefined;
}

/**
 * Everything imaginary checks before touching the image bytes for `op`: param coercion, `type`
 * validity, required params (with imaginary's exact "Missing required param…" messages), and for
 * `pipeline` the operations JSON; then our bounds on costly params (bounds.ts, 422). A bad
 * request is rejected here without waking a backend.
 */
export function validateRequest(op: OperationName, query: URLSearchParams): Checked<{ options: ImageOptions; pipeline?: PipelineStep[] }> {
  // /watermarkimage makes the server fetch any URL (SSRF, §1.4 `image`): never served, like a
  // disabled endpoint (§1.8 "Not implemented endpoint").
  if (op === "watermarkimage") return notServed;
  const parsed = parseImageOptions(query);
  if (!parsed.ok) return parsed;
  const options = parsed.value;
  if (op === "pipeline") {
    const steps = checkPipeline(options.operations ?? []);
    if (!steps.ok) return steps;
    return { ok: true, value: { options, pipeline: steps.value } };
  }
  // `auto` may resolve to nothing (no match in Accept); the backend re-checks /convert then.
  const problem = checkRequired(op, options) ?? checkWritable(op, options) ?? checkCostBounds(op, options);
  return problem ?? { ok: true, value: { options } };
}

// ---- pipeline (§1.6) ------------------------------------------------------------------------

/** Parses the `operations` JSON of /pipeline with imaginary's rules and messages (§1.6). */
export function parsePipeline(json: string | null): Checked<PipelineStep[]> {
  const out: ImageOptions = {};
  if (json !== null) {
    const error = decodeOperations(out, json);
    if (error !== undefined) {
      return reject(400, `Error while processing parameters, ${paramError("operations", goQuote(json), error)}`);
    }
  }
  return checkPipeline(out.operations ?? []);
}

/** The checks Pipeline() makes before running anything: count, names, per-step params. */
function checkPipeline(raw: RawPipelineStep[]): Checked<PipelineStep[]> {
  if (raw.length === 0) return opError("Missing or invalid pipeline operations JSON");
  if (raw.length > 10) return opError("Maximum allowed pipeline operations exceeded");
  const steps: PipelineStep[] = [];
  for (const step of raw) {
    if (!(pipelineNames as readonly string[]).includes(step.operation)) {
      return opError(`Unsupported operation name: ${step.operation}`);
    }
    if (step.operation === "watermarkImage") return notServed;
    // buildParamsFromOperation: same coercers, JSON-typed values; `type` is not validated here.
    const params: ImageOptions & { badType?: boolean } = {};
    for (const [key, value] of Object.entries(step.params)) {
      if (!(key in paramSpecs) || key === "operations") continue;
      const error = coerce(params, key as ParamName, value);
      if (error !== undefined) return opError(paramError(key, goValue(value), error));
    }
    delete params.badType;
    steps.push({ operation: step.operation as PipelineStep["operation"], ...(step.ignore_failure ? { ignore_failure: true } : {}), params });
  }
  // Ours, after imaginary's own checks of every step.
  for (const step of steps) {
    const tooCostly = checkCostBounds(step.operation, step.params);
    if (tooCostly) return tooCostly;
  }
  return { ok: true, value: steps };
}

/** Decodes the operations JSON like Go's json.Decoder with DisallowUnknownFields, into `out`. */
function decodeOperations(out: ImageOptions, data: string): string | undefined {
  if (data.length < 2) { out.operations = []; return undefined; } // params.go: "cannot be valid JSON"
  const parsed = parseFirstJsonValue(data);
  if (typeof parsed === "string") return parsed;
  const root = parsed.value;
  if (root === null) { out.operations = []; return undefined; }
  if (!Array.isArray(root)) return `json: cannot unmarshal ${jsonKind(root)} into Go value of type main.PipelineOperations`;
  const steps: RawPipelineStep[] = [];
  for (const item of root) {
    if (item === null) { steps.push({ operation: "", ignore_failure: false, params: {} }); continue; }
    if (typeof item !== "object" || Array.isArray(item)) {
      return `json: cannot unmarshal ${jsonKind(item)} into Go value of type main.PipelineOperation`;
    }
    const step: RawPipelineStep = { operation: "", ignore_failure: false, params: {} };
    for (const [key, value] of Object.entries(item as Record<string, unknown>)) {
      // encoding/json matches struct fields case-insensitively.
      const field = ["operation", "ignore_failure", "params"].find((f) => f === key.toLowerCase());
      const typeError = (goType: string): string =>
        `json: cannot unmarshal ${jsonKind(value)} into Go struct field PipelineOperation.${field} of type ${goType}`;
      if (field === undefined) return `json: unknown field ${goQuote(key)}`;
      if (value === null) continue;
      if (field === "operation") { if (typeof value !== "string") return typeError("string"); step.operation = value; }
      else if (field === "ignore_failure") { if (typeof value !== "boolean") return typeError("bool"); step.ignore_failure = value; }
      else if (typeof value !== "object" || Array.isArray(value)) return typeError("map[string]interface {}");
      else step.params = value as Record<string, unknown>;
    }
    steps.push(step);
  }
  out.operations = steps;
  return undefined;
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

// ---- Go formatting helpers -------------------------------------------------------------------

/** Go's %q for a string (close enough: JSON escaping is Go's for printable text). */
function goQuote(s: string): string {
  return JSON.stringify(s).replace(/\\u00([0-9a-f]{2})/g, "\\x$1");
}

/** Go's %q applied to a non-string JSON value prints `%!q(type=value)` (params.go bug, §1.6). */
function goValue(v: unknown): string {
  if (typeof v === "string") return goQuote(v);
  if (typeof v === "boolean") return `%!q(bool=${v})`;
  if (typeof v === "number") return `%!q(float64=${goFloat(v)})`;
  if (v === null) return "%!q(<nil>)";
  return Array.isArray(v) ? `%!q([]interface {}=${JSON.stringify(v)})` : `%!q(map[string]interface {}=${JSON.stringify(v)})`;
}

/** Go's %v for a float64: shortest digits, exponent form below 1e-4 or from 1e21. */
function goFloat(v: number): string {
  const exp = v === 0 ? 0 : Math.floor(Math.log10(Math.abs(v)));
  if (exp < -4 || exp >= 21) {
    return v.toExponential().replace(/e([+-])(\d)$/, "e$10$2");
  }
  return String(v);
}

const notServed: Rejection = { ok: false, status: 501, message: "Not implemented endpoint" };

function reject(status: number, message: string): Rejection {
  return { ok: false, status, message };
}
