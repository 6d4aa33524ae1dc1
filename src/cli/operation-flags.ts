/**
 * The dedicated operation flags of `aciimg process` (`--resize`, `--crop`, `--blur`, …), made from
 * the catalogue's `cli` entries in their --help rank. Each flag's parser adds its step to the
 * StepCollector as commander meets it, so steps keep command-line order.
 */
import { Option, type Command } from "commander";
import {
  operationNames,
  operationSpecs,
  type CliFlag,
  type OperationName,
  type OperationSpec,
} from "../protocol/operations.js";
import { parseInteger, parseIntegerList, parsePositive, parseRotation, parseSize } from "./flags.js";
import type { StepCollector } from "./batch/plan.js";

/** Adds every operation's dedicated flags to `command`, feeding `steps`. */
export function addOperationFlags(command: Command, steps: StepCollector): void {
  const offered = operationNames
    .flatMap((op) => {
      const cli = (operationSpecs[op] as OperationSpec).cli;
      return cli === undefined ? [] : [{ op, ...cli }];
    })
    .sort((a, b) => a.rank - b.rank);
  for (const { op, flags } of offered) {
    for (const flag of flags) {
      const option = new Option(flag.flags, flag.help);
      if (flag.kind === "switch") {
        // A switch takes no value, so its place in the order comes from the option event.
        command.addOption(option).on(`option:${option.name()}`, () => steps.add(op, { [flag.param]: true }));
      } else {
        command.addOption(option.argParser(parserOf(steps, op, flag)));
      }
    }
  }
}

/** The value parser of `flag`: adds the step and keeps the text as the option's value. */
function parserOf(
  steps: StepCollector,
  op: OperationName,
  flag: Exclude<CliFlag, { kind: "switch" }>,
): (value: string) => string {
  const name = flag.flags.split(" ")[0] as string;
  return (value) => {
    switch (flag.kind) {
      case "size":
        steps.add(op, parseSize(name, value));
        break;
      case "integer":
        steps.add(op, { [flag.param]: parseInteger(name, value, flag.min, flag.max, flag.example) });
        break;
      case "dimension":
        steps.dimension(flag.param, parseIntegerList(name, value, flag.min, flag.max, flag.example));
        break;
      case "rotation":
        steps.add(op, { [flag.param]: parseRotation(name, value) });
        break;
      case "positive":
        steps.add(op, { [flag.param]: parsePositive(name, value, flag.example) });
        break;
    }
    return value;
  };
}
