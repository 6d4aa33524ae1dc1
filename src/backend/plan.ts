/**
 * What an operation will do to an image, decided from the header and the parameters alone, before
 * any pixel work: imaginary's checks, the output type, bimg's geometry (geometry.ts), and our
 * limits on what no input size bounds: the output and zoom intermediate, the
 * text watermark's render, the blur's kernel. A pipeline is planned step by step from the input's
 * size, so a chain that multiplies sizes is refused before its first step runs.
 */
import { checkCostBounds } from "../protocol/bounds.js";
import {
  checkRequired,
  checkWritable,
  type ImageOperationName,
  type ImageOptions,
  type OutputType,
  type PipelineStep,
} from "../protocol/operations.js";
import { isOutputType } from "../protocol/output-types.js";
import { blurTapsAtLimit, gaussianTaps, largestSigma, textRenderSize } from "./costs.js";
import { bimgPlanFor } from "./bimg-options.js";
import { planGeometry, roundAngle, type Geometry } from "./geometry.js";
import { fail, ImagingError } from "./imaging-error.js";
import type { InputType } from "./sniff.js";

/**
 * What the caller already knows about the input (from the header read done for the 422 check).
 * `width` and `height` are one frame's; `pages` is the frame count of an animation (1 when absent).
 */
export interface InputInfo {
  type: InputType;
  width: number;
  height: number;
  orientation: number;
  pages?: number;
}

export interface ImagingLimits {
  /**
   * Largest output, zoom intermediate or text watermark render, in pixels (imaginary bounds none
   * of them, §2.3); a blur may do the work of a 200-tap kernel over this many pixels (costs.ts).
   */
  maxOutputPixels: number;
  /** Largest input in megapixels (imaginary's -max-allowed-resolution); an animation's frames count together. */
  maxResolutionMP: number;
}

/**
 * What happens to an animation's frames: all kept (each one processed), or only the first, and
 * why. An input of one frame is `{ animated: false }`, with nothing to say.
 */
export type Animation =
  | { animated: true; pages: number }
  | { animated: false; flattened?: { pages: number; why: string } };

/** What the backend runs on one image: the catalogue's image operations. */
export type StepName = ImageOperationName;

export type OperationPlan =
  | { op: "autorotate"; outType: OutputType; width: number; height: number; animation: Animation }
  | {
      op: Exclude<StepName, "autorotate">;
      outType: OutputType;
      width: number;
      height: number;
      animation: Animation;
      autoRotate: boolean;
      angle: 0 | 90 | 180 | 270;
      /** Size after auto-rotation and rotation: what the geometry starts from. */
      rotated: { width: number; height: number };
      zoom: number;
      geometry: Geometry;
      /** The text watermark's wrap width, when there is a text watermark. */
      textWidth?: number;
    };

/** Plans `op` on an image described by `info`, or throws imaginary's error or our 422. */
export function planOperation(op: StepName, info: InputInfo, o: ImageOptions, limits: ImagingLimits): OperationPlan {
  const problem = checkRequired(op, o) ?? checkWritable(op, o);
  if (problem) throw new ImagingError(problem.status, problem.message);

  // Output defaults to the input format; bimg cannot save gif/svg/avif (§4), this backend writes AVIF.
  const outType =
    op === "autorotate"
      ? writableOrNull(info.type)
      : ((o.type === "auto" ? undefined : o.type) ?? writableOrNull(info.type));
  if (outType === null) throw fail("Unsupported image output type");
  // Ours, after imaginary's own refusals.
  const tooCostly = checkCostBounds(op, o);
  if (tooCostly) throw new ImagingError(tooCostly.status, tooCostly.message);
  if (op === "autorotate") {
    // §1.5: every other param ignored.
    const swap = info.orientation > 4;
    const [width, height] = swap ? [info.height, info.width] : [info.width, info.height];
    const animation = planAnimation(info, outType, width * height, limits, swap ? "a quarter turn" : undefined);
    return { op, outType, width, height, animation };
  }

  const bimg = bimgPlanFor(op, o, info);
  const autoRotate = !o.norotation;
  const swapStored = autoRotate && info.orientation > 4;
  let [inW, inH] = swapStored ? [info.height, info.width] : [info.width, info.height];
  const angle = roundAngle(o.rotate ?? 0);
  if (angle === 90 || angle === 270) [inW, inH] = [inH, inW];
  const geometry = planGeometry(inW, inH, bimg);

  const { zoomed, scaled, finish } = geometry;
  const biggest = Math.max(
    zoomed.width * zoomed.height,
    scaled.width * scaled.height,
    finish.kind === "embed" ? finish.width * finish.height : 0,
  );
  // `!(<=)`: a NaN from absurd arithmetic is refused too.
  if (!(biggest <= limits.maxOutputPixels))
    throw new ImagingError(422, `Output image resolution is too big (limit ${megapixels(limits)} MP)`);
  const [width, height] = finish.kind === "none" ? [scaled.width, scaled.height] : [finish.width, finish.height];
  if (finish.kind === "extract") {
    const { left, top } = finish;
    if (
      left < 0 ||
      top < 0 ||
      width <= 0 ||
      height <= 0 ||
      left + width > scaled.width ||
      top + height > scaled.height
    ) {
      throw fail("extract_area: bad extract area");
    }
  }

  checkBlur(o, width, height, limits);
  const stillOnly =
    angle === 90 || angle === 270 || swapStored
      ? "a quarter turn"
      : finish.kind === "smart"
        ? "a smart crop"
        : op === "watermark"
          ? "a watermark"
          : (o.sigma ?? 0) > 0 || (o.minampl ?? 0) > 0
            ? "a blur"
            : bimg.zoom > 0 &&
                finish.kind !== "none" &&
                (scaled.width !== zoomed.width || scaled.height !== zoomed.height)
              ? "a zoom with a resize"
              : undefined;
  const animation = planAnimation({ ...info, width: inW, height: inH }, outType, biggest, limits, stillOnly);
  let textWidth: number | undefined;
  if (op === "watermark" && o.text) {
    // bimg's defaults: width = image/6, dpi 150, font "sans 10".
    textWidth = o.textwidth || Math.max(1, Math.floor(width / 6));
    const text = textRenderSize(o.text, o.font || "sans 10", o.dpi || 150, textWidth);
    if (!(text.width * text.height <= limits.maxOutputPixels)) {
      throw new ImagingError(422, `Watermark text is too big to render (limit ${megapixels(limits)} MP)`);
    }
  }
  return {
    op,
    outType,
    width,
    height,
    animation,
    autoRotate,
    angle,
    rotated: { width: inW, height: inH },
    zoom: bimg.zoom,
    geometry,
    ...(textWidth === undefined ? {} : { textWidth }),
  };
}

/**
 * Plans every step on the size the previous one produces; throws the first 422. Another error
 * ends the planning: that step fails when run, with that error, after the steps before it.
 */
export function planPipeline(steps: PipelineStep[], info: InputInfo, limits: ImagingLimits): void {
  let current = info;
  for (const step of steps) {
    const op = step.operation === "watermarkImage" ? "watermark" : step.operation;
    let plan: OperationPlan;
    try {
      plan = planOperation(op, current, step.params, limits);
    } catch (error) {
      if (error instanceof ImagingError && error.status === 422) throw error;
      return;
    }
    // The EXIF orientation survives only a step run with `norotation` that keeps metadata.
    const keepsOrientation =
      op !== "autorotate" && (step.params.norotation ?? false) && !(step.params.stripmeta ?? false);
    current = {
      type: plan.outType,
      width: plan.width,
      height: plan.height,
      orientation: keepsOrientation ? current.orientation : 0,
      pages: plan.animation.animated ? plan.animation.pages : 1,
    };
  }
}

/** Inputs whose frames are an animation: a multi-page TIFF's pages are not, and stay one page. */
const animatable: ReadonlySet<InputType> = new Set(["gif", "webp"]);

/**
 * Keeps an animation when the output can hold one (WebP: bimg writes no GIF, §4, and sharp no
 * animated AVIF) and the work is done frame by frame. libvips holds the frames as one tall image: a
 * resize, crop, extend, flip or half turn treats each frame apart, but a quarter turn and a smart
 * crop are refused by sharp, a blur bleeds across frames, a watermark is laid over the whole
 * strip, and a zoom followed by a resize goes through raw pixels that lose the frames; those keep
 * the first frame, as does an output that cannot animate, and say so. Every frame is decoded, so
 * the frames count together against the input limit, and the output's against the output limit
 * (`biggest`: its largest step, per frame), before any pixel work: 10,000 frames of 200x200 are
 * 400 MP, refused at once.
 */
function planAnimation(
  info: InputInfo,
  outType: OutputType,
  biggest: number,
  limits: ImagingLimits,
  stillOnly: string | undefined,
): Animation {
  const pages = info.pages ?? 1;
  if (pages <= 1) return { animated: false };
  if (!animatable.has(info.type)) {
    const why = `a ${info.type.toUpperCase()} is flattened to its first page`;
    return { animated: false, flattened: { pages, why } };
  }
  const why =
    outType === "avif"
      ? "AVIF is written as a still image" // sharp would write the frames as one tall picture
      : outType !== "webp"
        ? `${outType.toUpperCase()} cannot animate`
        : stillOnly && `${stillOnly} is not done frame by frame`;
  if (why) return { animated: false, flattened: { pages, why } };
  const inputMP = (pages * info.width * info.height) / 1e6;
  if (!(inputMP <= limits.maxResolutionMP)) {
    throw new ImagingError(
      422,
      `Animation is too big: ${pages} frames of ${info.width}x${info.height} are ` +
        `${Math.round(inputMP * 10) / 10} MP (limit ${limits.maxResolutionMP} MP for all frames)`,
    );
  }
  if (!(pages * biggest <= limits.maxOutputPixels)) {
    const limit = megapixels(limits);
    throw new ImagingError(422, `Output animation is too big: ${pages} frames (limit ${limit} MP for all frames)`);
  }
  return { animated: true, pages };
}

/** Blur runs on the output; its work is pixels × kernel taps (costs.ts). sharp clamps as imaging.ts does. */
function checkBlur(o: ImageOptions, width: number, height: number, limits: ImagingLimits): void {
  const sigma = o.sigma ?? 0,
    minampl = o.minampl ?? 0;
  if (!(sigma > 0 || minampl > 0)) return;
  const minAmplitude = minampl > 0 ? Math.min(minampl, 1) : 0.2; // sharp's default
  const taps = gaussianTaps(blurSigma(sigma), minAmplitude);
  const budget = blurTapsAtLimit * limits.maxOutputPixels;
  if (!(taps * width * height <= budget)) {
    const limit = largestSigma(Math.floor(budget / (width * height)), minAmplitude);
    throw new ImagingError(422, `Blur sigma is too big for the image size (limit ${limit} at ${width}x${height})`);
  }
}

/** The sigma handed to sharp: its range is 0.3–1000. */
export function blurSigma(sigma: number): number {
  return Math.min(Math.max(sigma, 0.3), 1000);
}

function megapixels(limits: ImagingLimits): number {
  return Math.round(limits.maxOutputPixels / 1e6);
}

function writableOrNull(type: InputType): OutputType | null {
  return isOutputType(type) ? type : null;
}
