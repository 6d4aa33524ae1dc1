/**
 * imaginary's query parameters (params.go `paramTypeCoercions`, docs/reference/imaginary-api.md §1.4): each one's
 * coercion kind, description and default, and the typed options they coerce into.
 */
import type { PipelineName } from "./catalogue.js";
import type { OutputType, UnwritableType } from "./output-types.js";

/** Parsed, coerced image options (imaginary's ImageOptions). Absent = not given. */
export interface ImageOptions {
  width?: number;
  height?: number;
  top?: number;
  left?: number;
  areawidth?: number;
  areaheight?: number;
  quality?: number;
  compression?: number;
  rotate?: number;
  factor?: number;
  margin?: number;
  dpi?: number;
  textwidth?: number;
  opacity?: number;
  flip?: boolean;
  flop?: boolean;
  force?: boolean;
  embed?: boolean;
  nocrop?: boolean;
  noreplicate?: boolean;
  norotation?: boolean;
  noprofile?: boolean;
  stripmeta?: boolean;
  interlace?: boolean;
  palette?: boolean;
  speed?: number;
  text?: string;
  font?: string;
  color?: [number, number, number];
  background?: [number, number, number];
  image?: string;
  type?: OutputType | "auto";
  gravity?: "centre" | "north" | "south" | "east" | "west" | "smart";
  colorspace?: "srgb" | "bw";
  extend?: "black" | "white" | "copy" | "mirror" | "background" | "lastpixel";
  sigma?: number;
  minampl?: number;
  aspectratio?: string;
  /** aciimg's extensions (encoder.ts), coerced by the built-in backend's rules only. */
  mozjpeg?: boolean;
  lossless?: boolean;
  effort?: number;
  /** `type` named a format imaginary parses but cannot write (gif/svg/pdf): the op fails (§4). */
  unwritableType?: UnwritableType;
  /** The decoded `operations` query param (any route decodes it; only /pipeline uses it, §1.6). */
  operations?: RawPipelineStep[];
}

/** A pipeline step as decoded from JSON, before its name and params are checked. */
export interface RawPipelineStep {
  operation: string;
  ignore_failure: boolean;
  params: Record<string, unknown>;
}

export interface PipelineStep {
  operation: PipelineName;
  ignore_failure?: boolean;
  params: ImageOptions;
}

/**
 * Whose rules a query is read by: imaginary's, or the built-in backend's, a superset that also
 * takes aciimg's extensions to it (encoder.ts: AVIF output, `mozjpeg`, `lossless`, `effort`). A
 * check made for a backend that may be imaginary uses imaginary's.
 */
export type Dialect = "imaginary" | "built-in";

/** A rejection with imaginary's exact status and message. */
export interface Rejection {
  ok: false;
  status: number;
  message: string;
}
export type Checked<T> = { ok: true; value: T } | Rejection;

export function reject(status: number, message: string): Rejection {
  return { ok: false, status, message };
}

export type ParamKind =
  | "int"
  | "float"
  | "bool"
  | "string"
  | "color"
  | "type"
  | "gravity"
  | "colorspace"
  | "extend"
  | "operations";

/** One query parameter: its coercion kind (§1.4), a one-line description and imaginary's default. */
export interface ParamSpec {
  readonly kind: ParamKind;
  readonly description: string;
  readonly default?: string;
}

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
