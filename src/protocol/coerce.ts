/**
 * Go-compatible coercion of query and pipeline parameters (params.go, docs/reference/imaginary-api.md §1.4):
 * ints are |float| rounded, bools are strconv.ParseBool, unknown enum values fall back as
 * imaginary's do, and errors carry Go's texts.
 */
import { encoderParamSpecs, type EncoderParamName } from "./encoder.js";
import { goQuote, paramError } from "./go-format.js";
import { isImaginaryOutputType, isOutputType, unwritableTypes, type UnwritableType } from "./output-types.js";
import {
  paramSpecs,
  reject,
  type Checked,
  type Dialect,
  type ImageOptions,
  type ParamKind,
  type ParamName,
  type ParamSpec,
} from "./params.js";
import { decodeOperations } from "./pipeline-json.js";

/** ImageOptions while coercing: a bad `type` is remembered and refused after all params (§1.3). */
export type CoercedOptions = ImageOptions & { badType?: boolean };

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
const goBools: Record<string, boolean> = {
  1: true,
  t: true,
  T: true,
  TRUE: true,
  true: true,
  True: true,
  0: false,
  f: false,
  F: false,
  FALSE: false,
  false: false,
  False: false,
};

/** parseColor: each of "R,G,B" as uint8 clamped to 255, non-numbers 0; fewer than 3 values → unused. */
function parseColor(s: string): [number, number, number] | undefined {
  if (s === "") return undefined;
  const v = s.split(",").map((n) => (/^\d+$/.test(n.trim()) ? Math.min(Number(n.trim()), 255) : 0));
  return v.length > 2 ? [v[0] ?? 0, v[1] ?? 0, v[2] ?? 0] : undefined;
}
const gravities = new Set(["north", "south", "east", "west", "smart"]);
const extends_ = new Set(["black", "white", "copy", "background", "lastpixel"]);

/** A param a query read by `dialect`'s rules coerces: imaginary's, and for the built-in backend aciimg's too. */
export type KnownParam = ParamName | EncoderParamName;

/** The params `dialect` coerces, in the order they are read (imaginary's first); anything else is ignored. */
export function knownParams(dialect: Dialect): readonly KnownParam[] {
  const imaginary = Object.keys(paramSpecs) as ParamName[];
  return dialect === "imaginary"
    ? imaginary
    : [...imaginary, ...(Object.keys(encoderParamSpecs) as EncoderParamName[])];
}

/**
 * Coerces one value into `out`. Query values are strings; pipeline values are JSON values, for
 * which Go's coercers accept numbers as-is (truncated, sign kept) and strings via the query rules.
 * Returns an error text, or undefined.
 */
export function coerce(
  out: CoercedOptions,
  name: KnownParam,
  value: unknown,
  dialect: Dialect = "imaginary",
): string | undefined {
  const o = out as Record<string, unknown>;
  const spec: ParamSpec =
    name in paramSpecs ? paramSpecs[name as ParamName] : encoderParamSpecs[name as EncoderParamName];
  const kind: ParamKind = spec.kind;
  switch (kind) {
    case "int": {
      if (typeof value === "number") {
        o[name] = Math.trunc(value);
        return undefined;
      }
      if (typeof value !== "string") return unsupported;
      const f = parseGoFloat(value);
      if (typeof f === "string") return f;
      o[name] = Math.floor(f + 0.5);
      return undefined;
    }
    case "float": {
      if (typeof value === "number") {
        o[name] = value;
        return undefined;
      }
      if (typeof value !== "string") return unsupported;
      const f = parseGoFloat(value);
      if (typeof f === "string") return unsupported;
      o[name] = f;
      return undefined;
    }
    case "bool": {
      if (typeof value === "boolean") {
        o[name] = value;
        return undefined;
      }
      if (typeof value !== "string") return unsupported;
      if (value === "") {
        o[name] = false;
        return undefined;
      }
      const b = goBools[value];
      if (b === undefined) return unsupported;
      o[name] = b;
      return undefined;
    }
    case "operations": {
      if (typeof value !== "string") return unsupported;
      const steps = decodeOperations(value);
      if (typeof steps === "string") return steps;
      out.operations = steps;
      return undefined;
    }
    default:
      if (typeof value !== "string") return unsupported;
      coerceText(out, name, kind, value, dialect);
      return undefined;
  }
}

/**
 * The string kinds: free text, colours, and the enums whose unknown values imaginary replaces. An
 * output type only the built-in backend writes is, by imaginary's rules, a type it does not know.
 */
function coerceText(out: CoercedOptions, name: KnownParam, kind: ParamKind, value: string, dialect: Dialect): void {
  const o = out as Record<string, unknown>;
  const v = value.trim().toLowerCase();
  const lower = value.toLowerCase();
  if (kind === "string") o[name] = value;
  else if (kind === "color") o[name] = parseColor(value);
  else if (kind === "gravity") o[name] = gravities.has(v) ? v : "centre";
  else if (kind === "colorspace") o[name] = value === "bw" ? "bw" : "srgb";
  else if (kind === "extend") o[name] = extends_.has(v) ? v : "mirror";
  else if (value === "auto") o[name] = "auto";
  else if (dialect === "built-in" ? isOutputType(lower) : isImaginaryOutputType(lower)) o[name] = lower;
  else if ((unwritableTypes as readonly string[]).includes(lower)) out.unwritableType = lower as UnwritableType;
  else if (value !== "") out.badType = true; // checked after coercion, as imaginary does (§1.3)
}

/**
 * Coerces query parameters as imaginary does (int = |float| rounded, bool = Go ParseBool,
 * first value wins, unknown ignored), by `dialect`'s rules. Rejection: 400 "Error while
 * processing parameters, …".
 */
export function parseImageOptions(query: URLSearchParams, dialect: Dialect = "imaginary"): Checked<ImageOptions> {
  const out: CoercedOptions = {};
  for (const name of knownParams(dialect)) {
    const value = query.get(name);
    if (value === null) continue;
    const error = coerce(out, name, value, dialect);
    if (error !== undefined) {
      return reject(400, `Error while processing parameters, ${paramError(name, goQuote(value), error)}`);
    }
  }
  if (out.badType) return reject(400, "Unsupported output image format");
  return { ok: true, value: out };
}
