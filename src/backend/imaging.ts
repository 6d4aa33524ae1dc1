/**
 * One imaginary operation on one image, on sharp (libvips), following bimg's resizer order
 * (docs/reference/imaginary-api.md §1.5): auto-rotate (unless norotation) → rotate → flip/flop → zoom → resize
 * → crop/embed/extract → blur → watermark → flatten → colourspace → save (encode.ts). What is done, and
 * whether it may be, is decided before any pixel work by plan.ts. Failures throw `ImagingError`
 * carrying imaginary's status and message.
 */
import sharp, { type OutputInfo, type OverlayOptions, type Sharp } from "sharp";
import { damagedMessage, type FailOn } from "../protocol/fail-on.js";
import type { ImageOptions, OutputType } from "../protocol/operations.js";
import { isSharpTimeout, sharpTimeout, tooSlow, type Deadline } from "./deadline.js";
import { encoded } from "./encode.js";
import { fail, ImagingError, vipsText } from "./imaging-error.js";
import {
  blurSigma,
  planOperation,
  type Animation,
  type ImagingLimits,
  type InputInfo,
  type OperationPlan,
  type StepName,
} from "./plan.js";
import type { RawImage } from "./svg-render.js";

/** The encoded result; `width` and `height` are one frame's, and `animation` says what became of the input's frames. */
export interface ImageResult {
  data: Buffer;
  type: OutputType;
  width: number;
  height: number;
  animation: Animation;
}

/**
 * Runs `op` on `input` (encoded, or an SVG's pixels: svg-render.ts) with imaginary's semantics,
 * once plan.ts has found it within the limits; every libvips run stops at the deadline (422).
 * `failOn` is how much damage in the input's data stops its decoding (fail-on.ts); imaginary's
 * default is none.
 */
export async function runOperation(
  op: StepName,
  input: Buffer | RawImage,
  info: InputInfo,
  o: ImageOptions,
  limits: ImagingLimits,
  deadline: Deadline,
  failOn: FailOn = "none",
): Promise<ImageResult> {
  const plan = planOperation(op, info, o, limits);
  try {
    return await render(plan, op, input, o, deadline, failOn);
  } catch (error) {
    const isDecodeCandidate = error instanceof ImagingError && error.status === 400 && Buffer.isBuffer(input);
    if (failOn === "none" || !isDecodeCandidate) throw error;
    const complaint = await decodeComplaint(input, failOn, plan.animation.animated, deadline);
    throw complaint === undefined ? error : new ImagingError(400, damagedMessage(failOn, complaint));
  }
}

/** The pixel work of a planned operation, in bimg's order. */
async function render(
  plan: OperationPlan,
  op: StepName,
  input: Buffer | RawImage,
  o: ImageOptions,
  deadline: Deadline,
  failOn: FailOn,
): Promise<ImageResult> {
  const { animation } = plan;
  const load = (): Sharp =>
    Buffer.isBuffer(input)
      ? sharp(input, { failOn, limitInputPixels: false, animated: animation.animated })
      : sharp(input.data, { raw: { width: input.width, height: input.height, channels: input.channels } });
  if (plan.op === "autorotate") return save(load().autoOrient(), plan.outType, {}, deadline, animation);

  const { autoRotate, angle, zoom, geometry: geo, width: outW, height: outH } = plan;
  const { width: inW, height: inH } = plan.rotated;
  let img = load();
  if (autoRotate) img = img.autoOrient();
  if (angle !== 0) img = img.rotate(angle);
  // bimg flips after rotating; sharp mirrors before rotate(), so a quarter turn swaps the axes.
  // bimg's Flip is VIPS_DIRECTION_HORIZONTAL (left-right: sharp's flop), Flop is vertical (§1.4).
  let mirrorLR = op === "flip" || (o.flip ?? false);
  let mirrorUD = op === "flop" || (o.flop ?? false);
  if (angle === 90 || angle === 270) [mirrorLR, mirrorUD] = [mirrorUD, mirrorLR];
  if (mirrorLR) img = img.flop();
  if (mirrorUD) img = img.flip();

  if (
    zoom > 0 &&
    geo.finish.kind !== "none" &&
    (geo.scaled.width !== geo.zoomed.width || geo.scaled.height !== geo.zoomed.height)
  ) {
    // Zoom and a rescale are two resizes: materialise the zoom first.
    const zoomed = img.resize(geo.zoomed.width, geo.zoomed.height, { fit: "fill", kernel: "nearest" });
    const raw = await bounded(zoomed.raw(), deadline);
    img = sharp(raw.data, { raw: { width: raw.info.width, height: raw.info.height, channels: raw.info.channels } });
    img = img.resize(geo.scaled.width, geo.scaled.height, { fit: "fill" });
  } else if (zoom > 0) {
    img = img.resize(geo.zoomed.width, geo.zoomed.height, { fit: "fill", kernel: "nearest" });
  } else if (geo.finish.kind === "smart") {
    img = img.resize(geo.finish.width, geo.finish.height, { fit: "cover", position: "attention" });
  } else if (geo.scaled.width !== inW || geo.scaled.height !== inH) {
    img = img.resize(geo.scaled.width, geo.scaled.height, { fit: "fill" });
  }

  const { width: sw, height: sh } = geo.scaled;
  if (geo.finish.kind === "extract") {
    // plan.ts has checked the area lies inside the scaled image.
    const { left, top, width, height } = geo.finish;
    if (left !== 0 || top !== 0 || width !== sw || height !== sh) img = img.extract({ left, top, width, height });
  } else if (geo.finish.kind === "embed") {
    const { left, top, width, height } = geo.finish;
    if (left < 0 || top < 0) {
      // The scaled image overflows the box on one side: vips_embed crops it there.
      img = img.extract({
        left: Math.max(-left, 0),
        top: Math.max(-top, 0),
        width: Math.min(sw, width),
        height: Math.min(sh, height),
      });
    }
    const padLeft = Math.max(left, 0),
      padTop = Math.max(top, 0);
    const padRight = width - Math.min(sw, width) - padLeft,
      padBottom = height - Math.min(sh, height) - padTop;
    if (padLeft || padTop || padRight > 0 || padBottom > 0) {
      img = img.extend({
        left: padLeft,
        top: padTop,
        right: Math.max(padRight, 0),
        bottom: Math.max(padBottom, 0),
        ...extendMode(o),
      });
    }
  }

  const sigma = o.sigma ?? 0,
    minampl = o.minampl ?? 0;
  if (sigma > 0 || minampl > 0) {
    img = img.blur({ sigma: blurSigma(sigma), ...(minampl > 0 ? { minAmplitude: Math.min(minampl, 1) } : {}) });
  }
  if (plan.textWidth !== undefined) img = img.composite([await textWatermark(o, plan.textWidth, outW, outH, deadline)]);
  // bimg ≥ 1.1.2 flattens any input with alpha, and skips black: a JPEG save makes that anyway.
  if (o.background?.some((channel) => channel !== 0)) {
    const [r, g, b] = o.background;
    img = img.flatten({ background: { r, g, b } });
  }
  if (o.colorspace === "bw") img = img.toColourspace("b-w");
  return save(img, plan.outType, o, deadline, animation);
}

/**
 * What the decoder says of `bytes` when it cannot decode every pixel of them at `failOn`, or
 * undefined when it can: asked after an operation failed, to tell damaged data from a failing
 * operation. Decodes as the operation did (every frame of a kept animation), under the deadline.
 */
export async function decodeComplaint(
  bytes: Buffer,
  failOn: FailOn,
  animated: boolean,
  deadline: Deadline,
): Promise<string | undefined> {
  const timeout = sharpTimeout(deadline);
  try {
    // Every pixel decoded, little kept: a JPEG shrinks on load but still reads all its data.
    // (stats() let damage through under concurrency: 10 of 60 damaged JPEGs passed, 0 of 60 so.)
    await sharp(bytes, { failOn, limitInputPixels: false, animated })
      .resize(8, 8, { fit: "fill", kernel: "nearest" })
      .raw()
      .timeout(timeout)
      .toBuffer();
    return undefined;
  } catch (error) {
    if (isSharpTimeout(error)) throw tooSlow(deadline);
    return vipsText(error instanceof Error ? error.message : String(error));
  }
}

/** Runs `img` to raw pixels under the deadline; a timeout is our 422, any other failure imaginary's 400. */
async function bounded(img: Sharp, deadline: Deadline): Promise<{ data: Buffer; info: OutputInfo }> {
  const timeout = sharpTimeout(deadline); // throws the 422 once the time is up
  try {
    return await img.timeout(timeout).toBuffer({ resolveWithObject: true });
  } catch (error) {
    if (isSharpTimeout(error)) throw tooSlow(deadline);
    throw fail(error instanceof Error ? error.message : String(error));
  }
}

function extendMode(o: ImageOptions): {
  extendWith: "background" | "copy" | "mirror";
  background?: { r: number; g: number; b: number; alpha: number };
} {
  switch (o.extend ?? "copy") {
    case "black":
      return { extendWith: "background", background: { r: 0, g: 0, b: 0, alpha: 1 } };
    case "white":
      return { extendWith: "background", background: { r: 255, g: 255, b: 255, alpha: 1 } };
    case "background": {
      const [r, g, b] = o.background ?? [0, 0, 0];
      return { extendWith: "background", background: { r, g, b, alpha: 1 } };
    }
    case "mirror":
      return { extendWith: "mirror" };
    default:
      return { extendWith: "copy" }; // copy and lastpixel both repeat the edge pixels
  }
}

/** bimg's text watermark defaults: width = image/6 (plan.ts), dpi 150, margin = width, opacity 0.25, white. */
async function textWatermark(
  o: ImageOptions,
  textWidth: number,
  imageW: number,
  imageH: number,
  deadline: Deadline,
): Promise<OverlayOptions> {
  const margin = o.margin || textWidth;
  const opacity = !o.opacity ? 0.25 : Math.min(o.opacity, 1);
  const [r, g, b] = o.color ?? [255, 255, 255];
  const text = { text: escapeMarkup(o.text ?? ""), font: o.font || "sans 10", dpi: o.dpi || 150, width: textWidth };
  const mask = await bounded(sharp({ text }).extractChannel(0).raw(), deadline);
  const tileW = Math.min(mask.info.width + margin, imageW),
    tileH = Math.min(mask.info.height + margin, imageH);
  const rgba = Buffer.alloc(tileW * tileH * 4);
  for (let y = 0; y < Math.min(mask.info.height, tileH); y += 1) {
    for (let x = 0; x < Math.min(mask.info.width, tileW); x += 1) {
      const i = (y * tileW + x) * 4;
      rgba[i] = r;
      rgba[i + 1] = g;
      rgba[i + 2] = b;
      rgba[i + 3] = Math.round((mask.data[y * mask.info.width + x] ?? 0) * opacity);
    }
  }
  return { input: rgba, raw: { width: tileW, height: tileH, channels: 4 }, tile: !o.noreplicate, gravity: "northwest" };
}

function escapeMarkup(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : "&gt;"));
}

async function save(
  img: Sharp,
  type: OutputType,
  o: ImageOptions,
  deadline: Deadline,
  animation: Animation,
): Promise<ImageResult> {
  // bimg keeps metadata unless stripmeta; noprofile drops the ICC profile only. Stripped is sharp's
  // default: no EXIF, XMP, IPTC or profile, the pixels converted to sRGB through the input's profile.
  if (!o.stripmeta) img = o.noprofile ? img.keepExif() : img.keepMetadata();
  const { data, info } = await bounded(encoded(img, type, o), deadline);
  // libvips holds an animation as its frames stacked in one tall image.
  const height = animation.animated ? Math.round(info.height / animation.pages) : info.height;
  return { data, type, width: info.width, height, animation };
}
