/**
 * The operation catalogue: the single source of truth for imaginary's operations, their
 * parameters and validation (imaginary-api.md §1.4–§1.6). Used by the backend, the client,
 * the CLI and the HTTP surface. Adding an operation is one entry here.
 *
 * CONTRACT (stub — to be implemented by the backend work; signatures are fixed):
 */

export const operationNames = [
  "resize", "fit", "enlarge", "extract", "crop", "smartcrop", "rotate", "autorotate", "flip", "flop",
  "thumbnail", "zoom", "convert", "blur", "watermark", "watermarkimage", "info", "pipeline",
] as const;
export type OperationName = (typeof operationNames)[number];

/** Output formats imaginary can write (imaginary-api.md §4). */
export type OutputType = "jpeg" | "png" | "webp" | "tiff";

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
}

export interface PipelineStep {
  operation: Exclude<OperationName, "info" | "pipeline" | "watermarkimage"> | "watermarkImage";
  ignore_failure?: boolean;
  params: ImageOptions;
}

/** A rejection with imaginary's exact status and message. */
export interface Rejection { ok: false; status: number; message: string }
export type Checked<T> = { ok: true; value: T } | Rejection;

export function isOperationName(name: string): name is OperationName {
  return (operationNames as readonly string[]).includes(name);
}

/**
 * Coerces query parameters as imaginary does (int = |float| rounded, bool = Go ParseBool,
 * first value wins, unknown ignored). Rejection: 400 "Error while processing parameters, …".
 */
export declare function parseImageOptions(query: URLSearchParams): Checked<ImageOptions>;

/**
 * Everything imaginary checks before touching the image bytes for `op`: param coercion, `type`
 * validity, required params (with imaginary's exact "Missing required param…" messages), and for
 * `pipeline` the operations JSON. A bad request is rejected here without waking a backend.
 */
export declare function validateRequest(op: OperationName, query: URLSearchParams): Checked<{ options: ImageOptions; pipeline?: PipelineStep[] }>;

/** Parses the `operations` JSON of /pipeline with imaginary's rules and messages (§1.6). */
export declare function parsePipeline(json: string | null): Checked<PipelineStep[]>;
