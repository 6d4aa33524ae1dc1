/**
 * The outputs of one input (docs/cli.md "Renditions"): one per format of `--type` and per size of
 * a `--width`/`--height` list, each named by the `--filename` template. A size past the source's is
 * not made (imaginary's resize never enlarges, docs/reference/imaginary-api.md §2): it is made at
 * the source's size, once, however many larger sizes asked for it.
 */
import { basename, dirname, extname, join } from "node:path";
import { AciimgError, usageError } from "../../errors.js";
import type { CliOutputType } from "../flags.js";
import { extensionOf, outputName } from "./outputs.js";
import type { ImagePlan, Rendition } from "./plan.js";

/** An output of an input, its size settled against the source's. */
export interface PlannedRendition extends Rendition {
  /** The width or height this output is asked for (the listed size, or the source's when smaller). */
  width?: number;
  height?: number;
}

/** The placeholders a --filename template may hold. */
const placeholders = ["name", "ext", "width", "height", "hash"] as const;
type Placeholder = (typeof placeholders)[number];

/** Whether an input of this plan has several outputs, which then need a template to tell them apart. */
export function hasSeveralOutputs(plan: ImagePlan): boolean {
  return plan.outputTypes.length > 1 || (plan.sizes?.values.length ?? 0) > 1;
}

/**
 * The --filename template to use: the one given, checked, or the default when an input has several
 * outputs; undefined keeps the input's name (with the output's extension).
 */
export function nameTemplateOf(plan: ImagePlan, given: string | undefined): string | undefined {
  const sizeKey = plan.sizes?.key;
  if (given === undefined) {
    if (!hasSeveralOutputs(plan)) return undefined;
    if ((plan.sizes?.values.length ?? 0) > 1)
      return sizeKey === "height" ? "{name}-{height}h.{ext}" : "{name}-{width}w.{ext}";
    return "{name}.{ext}";
  }
  const used = new Set<string>();
  for (const match of given.matchAll(/\{([^{}]*)\}/g)) used.add(match[1] as string);
  const unknown = [...used].filter((p) => !(placeholders as readonly string[]).includes(p));
  if (unknown.length > 0 || /[{}]/.test(given.replace(/\{[^{}]*\}/g, "")))
    throw usageError("--filename", `a template of ${placeholders.map((p) => `{${p}}`).join(" ")}`, given);
  const segments = given.split("/");
  if (given.startsWith("/") || segments.some((s) => s === "" || s === "." || s === ".."))
    throw usageError("--filename", "a name inside the output folder (no /, . or .. segments at its ends)", given);
  for (const key of ["width", "height"] as const) {
    if (used.has(key) && sizeKey !== key)
      throw usageError("--filename", `a template without {${key}}, which needs --${key} alone as the size`, given);
  }
  const tellsApart = (placeholder: Placeholder) => used.has(placeholder) || used.has("hash");
  if ((plan.sizes?.values.length ?? 0) > 1 && !tellsApart(sizeKey as Placeholder))
    throw usageError("--filename", `a template with {${sizeKey}} (or {hash}) to tell the sizes apart`, given);
  if (plan.outputTypes.length > 1 && !tellsApart("ext"))
    throw usageError("--filename", "a template with {ext} (or {hash}) to tell the formats apart", given);
  if (!used.has("ext") && plan.outputTypes.length === 1) {
    const type = plan.outputTypes[0] as CliOutputType;
    if (!extensionOf[type].includes(extname(given).slice(1).toLowerCase()))
      throw usageError("--filename", `a name ending in .{ext} or .${extensionOf[type][0]} (the format written)`, given);
  }
  return given;
}

/**
 * The outputs of an input whose own output type is `ownType` (when --type names none) and whose
 * oriented size is `source` (when known): one per type and size, sizes past the source's made
 * once at its size, or with --upscale each enlarged to (its other side kept in proportion).
 */
export function renditionsOf(
  plan: ImagePlan,
  ownType: CliOutputType | undefined,
  source: { width: number; height: number } | undefined,
): PlannedRendition[] {
  const types = plan.outputTypes.length === 0 ? [ownType] : plan.outputTypes;
  const sizes = plan.sizes;
  const made = new Map<string, PlannedRendition>();
  for (const type of types) {
    for (const asked of sizes?.values ?? [undefined]) {
      let size = asked;
      let enlarge: PlannedRendition["enlarge"];
      if (size !== undefined && sizes?.resizesSource && source !== undefined && size > source[sizes.key]) {
        if (plan.upscale) enlarge = enlargedTo(source, sizes.key, size);
        else size = source[sizes.key];
      }
      const rendition: PlannedRendition = {
        type,
        ...(size === undefined ? {} : { size, [sizes?.key as string]: size }),
        ...(enlarge === undefined ? {} : { enlarge }),
      };
      const sameAs = `${type}|${size}`;
      if (!made.has(sameAs)) made.set(sameAs, rendition);
    }
  }
  return [...made.values()];
}

/** `source` enlarged so its `key` side is `size`, the other in proportion (at least 1 pixel). */
function enlargedTo(
  source: { width: number; height: number },
  key: "width" | "height",
  size: number,
): { width: number; height: number } {
  const other = key === "width" ? "height" : "width";
  return { [key]: size, [other]: Math.max(1, Math.round((size * source[other]) / source[key])) } as {
    width: number;
    height: number;
  };
}

/** The output's path relative to the output folder, for the input at `relativeInput` there. */
export function renditionName(
  template: string | undefined,
  relativeInput: string,
  rendition: PlannedRendition,
  key: string | undefined,
): string {
  if (template === undefined) return outputName(relativeInput, rendition.type);
  const inputExt = extname(relativeInput);
  const values: Record<Placeholder, string | undefined> = {
    name: basename(relativeInput, inputExt),
    ext: rendition.type === undefined ? inputExt.slice(1) : extensionOf[rendition.type][0],
    width: rendition.width?.toString(),
    height: rendition.height?.toString(),
    hash: key?.slice(0, 10),
  };
  const name = template.replace(/\{([a-z]+)\}/g, (_, placeholder: Placeholder) => {
    const value = values[placeholder];
    if (value === undefined) throw new AciimgError("E_INTERNAL", `--filename: {${placeholder}} has no value here`);
    return value;
  });
  return join(dirname(relativeInput), name);
}
