/**
 * What a catalogue entry (catalogue.ts) says about an operation: its parameters and checks, its
 * place in a /pipeline, and the `aciimg process` flags that add it as a step.
 */
import type { ImageOptions, ParamName } from "./params.js";

/**
 * A dedicated `aciimg process` flag that adds its operation as a step; the CLI parses the value
 * (src/cli/flags.ts). `flags` and `help` are commander's option flags and description.
 */
export type CliFlag = { readonly flags: string; readonly help: string } & CliFlagValue;

/** How the CLI parses a flag's value. */
type CliFlagValue =
  /** `WxH` → `width` and `height`. */
  | { readonly kind: "size" }
  /** A whole number within [min, max] into `param`. */
  | {
      readonly kind: "integer";
      readonly param: ParamName;
      readonly min: number;
      readonly max: number;
      readonly example: string;
    }
  /** Like integer, but joins the step of the other dimension flag given just before it (`--width 300 --height 200`). */
  | {
      readonly kind: "dimension";
      readonly param: "width" | "height";
      readonly min: number;
      readonly max: number;
      readonly example: string;
    }
  /** 90, 180 or 270 into `param`. */
  | { readonly kind: "rotation"; readonly param: ParamName }
  /** A positive decimal number into `param`. */
  | { readonly kind: "positive"; readonly param: ParamName; readonly example: string }
  /** No value: sets `param` to true. */
  | { readonly kind: "switch"; readonly param: ParamName };

/** What an operation does, which params apply to it, and how it is checked and offered. */
export interface OperationSpec {
  readonly description: string;
  readonly params: readonly ParamName[];
  /** Human summary of the required params. */
  readonly requires?: string;
  /** imaginary's "Missing required param…" text when `o` lacks what the operation needs (image.go). */
  readonly missing?: (o: ImageOptions) => string | undefined;
  /** May be a /pipeline step (§1.6): `true` under its own name, or the name imaginary gives it there. */
  readonly pipeline?: true | string;
  /** Never encodes with `type` (§4): an unwritable type is not refused. */
  readonly ignoresType?: true;
  /** Never served, like a disabled endpoint (§1.8 "Not implemented endpoint"). */
  readonly unserved?: true;
  /** Dedicated `aciimg process` flags; `rank` is their place in --help among other operations' flags. */
  readonly cli?: { readonly rank: number; readonly flags: readonly CliFlag[] };
}
