/**
 * What imaginary hands bimg for each operation (image.go, docs/reference/imaginary-api.md §1.5):
 * the input to bimg's geometry (geometry.ts).
 */
import type { ImageOptions } from "../protocol/operations.js";
import { applyAspectRatio, fitBox, type BimgPlan } from "./geometry.js";
import { fail } from "./imaging-error.js";
import type { InputInfo, StepName } from "./plan.js";

/** imaginary's BimgOptions plus each operation's forced options (image.go, §1.5). */
export function bimgPlanFor(op: Exclude<StepName, "autorotate">, o: ImageOptions, info: InputInfo): BimgPlan {
  let { width, height } = applyAspectRatio(o.width ?? 0, o.height ?? 0, o.aspectratio);
  const plan: BimgPlan = {
    width,
    height,
    crop: false,
    embed: o.embed ?? false,
    force: o.force ?? false,
    enlarge: false,
    gravity: o.gravity ?? "centre",
    rotateParam: o.rotate ?? 0,
    zoom: 0,
    top: 0,
    left: 0,
    areawidth: 0,
    areaheight: 0,
  };
  const area = (): void => {
    plan.top = o.top ?? 0;
    plan.left = o.left ?? 0;
    plan.areawidth = o.areawidth ?? 0;
    plan.areaheight = o.areaheight ?? 0;
  };
  switch (op) {
    case "resize":
      plan.embed = true;
      if (o.nocrop !== undefined) plan.crop = !o.nocrop;
      break;
    case "fit": {
      if (info.width === 0 || info.height === 0) throw fail("Width or height of requested image is zero");
      ({ width, height } = fitBox(
        info.width,
        info.height,
        info.orientation,
        o.norotation ?? false,
        o.width ?? 0,
        o.height ?? 0,
      ));
      plan.width = width;
      plan.height = height;
      plan.embed = true;
      break;
    }
    case "enlarge":
      plan.enlarge = true;
      plan.crop = !(o.nocrop ?? false);
      break;
    case "extract":
      area();
      break;
    case "crop":
      plan.crop = true;
      break;
    case "smartcrop":
      plan.crop = true;
      plan.gravity = "smart";
      break;
    case "zoom":
      if ((o.top ?? 0) > 0 || (o.left ?? 0) > 0) {
        area();
        if (o.nocrop !== undefined) plan.crop = !o.nocrop;
      }
      plan.zoom = o.factor ?? 0;
      break;
    default:
      break;
  }
  return plan;
}
