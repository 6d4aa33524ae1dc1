/**
 * bimg's size arithmetic (resizer.go: normalizeOperation, imageCalculations, the "do not enlarge"
 * rule, shouldTransformImage, extractOrEmbedImage, calculateCrop) as a pure function, so the
 * sizes imaginary produces (docs/reference/imaginary-api.md §1.5, §5.2) follow from the same rules here.
 */

export type Gravity = "centre" | "north" | "south" | "east" | "west" | "smart";

/** bimg.Options after imaginary's per-operation forcing (image.go). */
export interface BimgPlan {
  width: number;
  height: number;
  crop: boolean;
  embed: boolean;
  force: boolean;
  enlarge: boolean;
  gravity: Gravity;
  /** The user's `rotate` param before rounding (normalizeOperation tests it against 0). */
  rotateParam: number;
  /** Zoom factor: replication ×(zoom+1); 0 = none. */
  zoom: number;
  top: number;
  left: number;
  areawidth: number;
  areaheight: number;
}

/** What to do to an image of inW×inH (already auto-rotated and rotated). */
export interface Geometry {
  /** Size after zoom (equals the input when no zoom). */
  zoomed: { width: number; height: number };
  /** Size after scaling; equals `zoomed` when nothing is scaled. */
  scaled: { width: number; height: number };
  /** Then one of: a crop (extract), a smart crop, an embed (extend), or nothing. */
  finish:
    | { kind: "none" }
    | { kind: "extract"; left: number; top: number; width: number; height: number }
    | { kind: "smart"; width: number; height: number }
    | { kind: "embed"; left: number; top: number; width: number; height: number };
}

/** bimg's calculateCrop (resizer.go). Go's integer division truncates. */
function cropOrigin(inW: number, inH: number, outW: number, outH: number, gravity: Gravity): [number, number] {
  const half = (n: number): number => Math.trunc(n / 2);
  switch (gravity) {
    case "north":
      return [half(inW - outW + 1), 0];
    case "east":
      return [inW - outW, half(inH - outH + 1)];
    case "south":
      return [half(inW - outW + 1), inH - outH];
    case "west":
      return [0, half(inH - outH + 1)];
    default:
      return [half(inW - outW + 1), half(inH - outH + 1)];
  }
}

/** Plans the resize/crop/embed bimg would perform on an inW×inH image. */
export function planGeometry(inW: number, inH: number, input: BimgPlan): Geometry {
  const o = { ...input };
  // normalizeOperation: a bare width/height with nothing else means "force" (thumbnail distorts).
  if (!o.force && !o.crop && !o.embed && !o.enlarge && o.rotateParam === 0 && (o.width > 0 || o.height > 0))
    o.force = true;

  // imageCalculations
  let factor = 1;
  const xf = inW / o.width;
  const yf = inH / o.height;
  if (o.width > 0 && o.height > 0) factor = o.crop ? Math.min(xf, yf) : Math.max(xf, yf);
  else if (o.width > 0) {
    if (o.crop) o.height = inH;
    else {
      factor = xf;
      o.height = Math.round(inH / factor);
    }
  } else if (o.height > 0) {
    if (o.crop) o.width = inW;
    else {
      factor = yf;
      o.width = Math.round(inW / factor);
    }
  } else {
    o.width = inW;
    o.height = inH;
  }

  // Never upscale unless enlarge/force, and only when both sides are smaller.
  if (!o.enlarge && !o.force && inW < o.width && inH < o.height) {
    factor = 1;
    o.width = inW;
    o.height = inH;
  }

  const zoomed = o.zoom > 0 ? { width: inW * (o.zoom + 1), height: inH * (o.zoom + 1) } : { width: inW, height: inH };
  const transform =
    o.force ||
    (o.width > 0 && o.width !== inW) ||
    (o.height > 0 && o.height !== inH) ||
    o.areawidth > 0 ||
    o.areaheight > 0;
  if (!transform) return { zoomed, scaled: zoomed, finish: { kind: "none" } };

  const scaled = o.force
    ? { width: o.width, height: o.height }
    : {
        width: Math.max(1, Math.round(zoomed.width / factor)),
        height: Math.max(1, Math.round(zoomed.height / factor)),
      };
  if (o.force) {
    o.crop = false;
    o.embed = false;
  }

  // extractOrEmbedImage: the first matching case wins, in bimg's order.
  const { width: sw, height: sh } = scaled;
  if (o.gravity === "smart") {
    if (sw <= o.width && sh <= o.height) return { zoomed, scaled, finish: { kind: "none" } };
    return { zoomed, scaled, finish: { kind: "smart", width: Math.min(sw, o.width), height: Math.min(sh, o.height) } };
  }
  if (o.crop) {
    const [left, top] = cropOrigin(sw, sh, o.width, o.height, o.gravity);
    return {
      zoomed,
      scaled,
      finish: {
        kind: "extract",
        left: Math.max(left, 0),
        top: Math.max(top, 0),
        width: Math.min(sw, o.width),
        height: Math.min(sh, o.height),
      },
    };
  }
  if (o.embed) {
    return {
      zoomed,
      scaled,
      finish: {
        kind: "embed",
        left: Math.trunc((o.width - sw) / 2),
        top: Math.trunc((o.height - sh) / 2),
        width: o.width,
        height: o.height,
      },
    };
  }
  if (o.top !== 0 || o.left !== 0 || o.areawidth !== 0 || o.areaheight !== 0) {
    const width = o.areawidth || o.width;
    const height = o.areaheight || o.height;
    return { zoomed, scaled, finish: { kind: "extract", left: o.left, top: o.top, width, height } };
  }
  return { zoomed, scaled, finish: { kind: "none" } };
}

/** bimg's getAngle: rounded down to a multiple of 90, at most 270 (docs/reference/imaginary-api.md §1.4). */
export function roundAngle(angle: number): 0 | 90 | 180 | 270 {
  const a = Math.min(angle - (angle % 90), 270);
  return a === 90 || a === 180 || a === 270 ? a : 0;
}

/** imaginary's fit box (image.go Fit + calculateDestinationFitDimension), incl. its 5–8 swap. */
export function fitBox(
  storedW: number,
  storedH: number,
  orientation: number,
  noRotation: boolean,
  w: number,
  h: number,
): { width: number; height: number } {
  const swap = !noRotation && orientation > 4;
  const [ow, oh] = swap ? [storedH, storedW] : [storedW, storedH];
  let [fw, fh] = swap ? [h, w] : [w, h];
  if (ow * fh > fw * oh) fh = Math.round((fw * oh) / ow);
  else fw = Math.round((fh * ow) / oh);
  return swap ? { width: fh, height: fw } : { width: fw, height: fh };
}

/** imaginary's aspectratio ("W:H", integer maths), applied when exactly one side is given. */
export function applyAspectRatio(
  width: number,
  height: number,
  ratio: string | undefined,
): { width: number; height: number } {
  if (!ratio || (width !== 0) === (height !== 0)) return { width, height };
  const [rw, rh] = ratio.split(":").map((n) => Number.parseInt(n, 10));
  if (!rw || !rh) return { width, height };
  return width !== 0
    ? { width, height: Math.trunc((width * rh) / rw) }
    : { width: Math.trunc((height * rw) / rh), height };
}
