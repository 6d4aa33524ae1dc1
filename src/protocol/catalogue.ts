/**
 * The operation catalogue: one entry per imaginary operation (docs/reference/imaginary-api.md §1.5) carrying its
 * parameters, its required-param check, whether and under which name it may be a /pipeline step,
 * and its dedicated `aciimg process` flags. The HTTP surface, the backend, the client and the CLI
 * all read it: adding an operation is one entry here plus its pixel code in src/backend/.
 */
import type { CliFlag, OperationSpec } from "./operation-spec.js";
import type { ImageOptions, ParamName, Rejection } from "./params.js";

// Params every image op passes to bimg (imaginary's BimgOptions).
const common = [
  "type",
  "quality",
  "compression",
  "palette",
  "speed",
  "interlace",
  "stripmeta",
  "noprofile",
  "norotation",
  "colorspace",
  "background",
  "extend",
  "sigma",
  "minampl",
  "flip",
  "flop",
  "rotate",
  "gravity",
  "force",
  "embed",
  "aspectratio",
] as const satisfies readonly ParamName[];

const n = (v: number | undefined): number => v ?? 0;
const needsWidthOrHeight =
  (message: string) =>
  (o: ImageOptions): string | undefined =>
    n(o.width) === 0 && n(o.height) === 0 ? message : undefined;
const needsWidthAndHeight = (o: ImageOptions): string | undefined =>
  n(o.width) === 0 || n(o.height) === 0 ? "Missing required params: height, width" : undefined;
const size = (flags: string, help: string): CliFlag => ({ kind: "size", flags, help });

/** The entries, in imaginary's route order (GET / lists them so). */
export const operationSpecs = {
  resize: {
    description: "resize keeping the aspect ratio",
    params: ["width", "height", "nocrop", ...common],
    requires: "width or height",
    missing: needsWidthOrHeight("Missing required param: height or width"),
    pipeline: true,
    cli: {
      rank: 1,
      flags: [
        size("--resize <WxH>", "resize to fit WxH, extending to exactly WxH (imaginary /resize)"),
        {
          kind: "dimension",
          flags: "--width <N>",
          help: "resize to N pixels wide",
          param: "width",
          min: 1,
          max: 100000,
          example: "300",
        },
        {
          kind: "dimension",
          flags: "--height <N>",
          help: "resize to N pixels high",
          param: "height",
          min: 1,
          max: 100000,
          example: "200",
        },
      ],
    },
  },
  fit: {
    description: "fit inside width x height",
    params: ["width", "height", ...common],
    requires: "width and height",
    missing: needsWidthAndHeight,
    pipeline: true,
    cli: { rank: 4, flags: [size("--fit <WxH>", "shrink to fit inside WxH, keeping the aspect ratio")] },
  },
  enlarge: {
    description: "enlarge (crops unless nocrop)",
    params: ["width", "height", "nocrop", ...common],
    requires: "width and height",
    missing: needsWidthAndHeight,
    pipeline: true,
  },
  extract: {
    description: "extract an area",
    params: ["top", "left", "areawidth", "areaheight", ...common],
    requires: "areawidth and areaheight",
    missing: (o) =>
      n(o.areawidth) === 0 || n(o.areaheight) === 0 ? "Missing required params: areawidth or areaheight" : undefined,
    pipeline: true,
  },
  crop: {
    description: "crop to width x height",
    params: ["width", "height", ...common],
    requires: "width or height",
    missing: needsWidthOrHeight("Missing required param: height or width"),
    pipeline: true,
    cli: { rank: 2, flags: [size("--crop <WxH>", "crop to WxH around the centre")] },
  },
  smartcrop: {
    description: "crop around the most interesting area",
    params: ["width", "height", ...common],
    requires: "width or height",
    missing: needsWidthOrHeight("Missing required param: height or width"),
    pipeline: true,
    cli: { rank: 3, flags: [size("--smartcrop <WxH>", "crop to WxH around the most interesting area")] },
  },
  rotate: {
    description: "rotate by a multiple of 90 degrees",
    params: [...common],
    requires: "rotate",
    missing: (o) => (n(o.rotate) === 0 ? "Missing required param: rotate" : undefined),
    pipeline: true,
    cli: {
      rank: 6,
      flags: [{ kind: "rotation", flags: "--rotate <DEG>", help: "rotate by 90, 180 or 270 degrees", param: "rotate" }],
    },
  },
  autorotate: { description: "rotate by the EXIF orientation only", params: [], pipeline: true, ignoresType: true },
  flip: {
    description: "mirror (bimg flip)",
    params: [...common],
    pipeline: true,
    cli: {
      rank: 7,
      flags: [{ kind: "switch", flags: "--flip", help: "mirror vertically (imaginary's flip)", param: "flip" }],
    },
  },
  flop: {
    description: "mirror (bimg flop)",
    params: [...common],
    pipeline: true,
    cli: {
      rank: 8,
      flags: [{ kind: "switch", flags: "--flop", help: "mirror horizontally (imaginary's flop)", param: "flop" }],
    },
  },
  thumbnail: {
    description: "thumbnail (distorts when both sizes are given)",
    params: ["width", "height", ...common],
    requires: "width or height",
    missing: needsWidthOrHeight("Missing required params: width or height"),
    pipeline: true,
    cli: {
      rank: 5,
      flags: [
        {
          kind: "integer",
          flags: "--thumbnail <N>",
          help: "thumbnail N pixels wide",
          param: "width",
          min: 1,
          max: 100000,
          example: "150",
        },
      ],
    },
  },
  zoom: {
    description: "zoom x(factor+1)",
    params: ["factor", "top", "left", "areawidth", "areaheight", "nocrop", ...common],
    requires: "factor",
    missing: (o) => {
      if (n(o.factor) === 0) return "Missing required param: factor";
      return (n(o.top) > 0 || n(o.left) > 0) && n(o.areawidth) === 0 && n(o.areaheight) === 0
        ? "Missing required params: areawidth, areaheight"
        : undefined;
    },
    pipeline: true,
  },
  convert: {
    description: "convert to another format",
    params: [...common],
    requires: "type",
    missing: (o) =>
      o.type === undefined && o.unwritableType === undefined ? "Missing required param: type" : undefined,
    pipeline: true,
  },
  blur: {
    description: "gaussian blur",
    params: [...common],
    requires: "sigma or minampl",
    missing: (o) => (n(o.sigma) === 0 && n(o.minampl) === 0 ? "Missing required param: sigma or minampl" : undefined),
    pipeline: true,
    cli: {
      rank: 9,
      flags: [
        {
          kind: "positive",
          flags: "--blur <SIGMA>",
          help: "Gaussian blur with this sigma",
          param: "sigma",
          example: "1.5",
        },
      ],
    },
  },
  watermark: {
    description: "text watermark",
    params: ["text", "font", "margin", "dpi", "textwidth", "opacity", "noreplicate", "color", ...common],
    requires: "text",
    missing: (o) => (!o.text ? "Missing required param: text" : undefined),
    pipeline: true,
  },
  // Makes the server fetch any URL (SSRF, §1.4 `image`), so never served.
  watermarkimage: {
    description: "image watermark (not served: SSRF)",
    params: ["image", "top", "left", "opacity", ...common],
    requires: "image",
    missing: (o) => (!o.image ? "Missing required param: image" : undefined),
    pipeline: "watermarkImage",
    unserved: true,
  },
  info: { description: "image metadata as JSON", params: [], ignoresType: true },
  pipeline: {
    description: "up to 10 operations in a row",
    params: ["operations"],
    requires: "operations",
    ignoresType: true,
  },
} as const satisfies Record<string, OperationSpec>;

type Catalogue = typeof operationSpecs;
export type OperationName = keyof Catalogue;
/** The names a /pipeline step may have (§1.6). */
export type PipelineName = {
  [K in OperationName]: Catalogue[K] extends { pipeline: infer P } ? (P extends string ? P : K) : never;
}[OperationName];
/** The operations that transform one image: a step of a pipeline, or the backend's unit of work. */
export type ImageOperationName = {
  [K in OperationName]: Catalogue[K] extends { pipeline: true } ? K : never;
}[OperationName];

export const operationNames = Object.keys(operationSpecs) as readonly OperationName[];

export function isOperationName(name: string): name is OperationName {
  return (operationNames as readonly string[]).includes(name);
}

/** Pipeline step name → its operation ("watermarkImage" → "watermarkimage"). */
const operationOfStep = new Map<string, OperationName>(
  operationNames.flatMap((op) => {
    const pipeline = (operationSpecs[op] as OperationSpec).pipeline;
    return pipeline === undefined ? [] : [[pipeline === true ? op : pipeline, op] as const];
  }),
);

export function isPipelineName(name: string): name is PipelineName {
  return operationOfStep.has(name);
}

/** The entry of an operation or of a pipeline step name. */
export function specOf(op: OperationName | PipelineName): OperationSpec {
  return operationSpecs[isOperationName(op) ? op : (operationOfStep.get(op) as OperationName)];
}

// ---- checks done inside the operation (image.go), prefixed by the handler ----------------

export const opError = (message: string): Rejection => ({
  ok: false,
  status: 400,
  message: `Error while processing the image: ${message}`,
});
export const notServed: Rejection = { ok: false, status: 501, message: "Not implemented endpoint" };

/** The "Missing required param…" rejection of `op` (image.go), or undefined when satisfied. */
export function checkRequired(op: OperationName | PipelineName, o: ImageOptions): Rejection | undefined {
  const missing = specOf(op).missing?.(o);
  return missing === undefined ? undefined : opError(missing);
}

/** bimg refuses to save gif/svg/pdf (§4); info and autorotate never look at `type`. */
export function checkWritable(op: OperationName | PipelineName, o: ImageOptions): Rejection | undefined {
  if (specOf(op).ignoresType) return undefined;
  return o.unwritableType !== undefined ? opError("Unsupported image output type") : undefined;
}
