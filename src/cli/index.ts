/**
 * The CLI's entry and its one top-level catch (changesets' index.ts): an AciimgError prints its
 * message (stack with --verbose) and exits with its documented code; a commander usage error has
 * already printed one line and exits 2; anything else is a bug: stack, exit 70.
 */
import { setFlagsFromString } from "node:v8";
import { CommanderError } from "commander";
import { errorCodes, isAciimgError } from "../errors.js";
import { createProgram } from "./program.js";

/** Commander's non-error exits (help, version). */
const cleanExits = new Set(["commander.helpDisplayed", "commander.help", "commander.version", "commander.executeSubCommandAsync"]);

/**
 * undici parses HTTP with llhttp compiled to WebAssembly. V8 re-compiles hot wasm with its
 * optimizing tier on a background thread, and Node waits for that compile before it exits
 * (nodejs/node#36616): ~70 ms of CPU and wall time at the end of every command, for parser code
 * a CLI run barely uses. The baseline tier is enough here. Set before the first connection, which
 * is when undici compiles the module.
 */
setFlagsFromString("--liftoff-only");

async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = createProgram((code) => {
    exitCode = code;
  });
  const verbose = argv.includes("--verbose");
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return cleanExits.has(error.code) ? 0 : errorCodes.E_USAGE;
    if (isAciimgError(error)) {
      process.stderr.write(`aciimg: ${verbose && error.stack ? error.stack : error.message}\n`);
      if (verbose && error.cause instanceof Error) process.stderr.write(`caused by: ${error.cause.stack ?? error.cause.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`aciimg: unexpected error (a bug; please report it):\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return errorCodes.E_INTERNAL;
  }
}

process.exitCode = await main(process.argv);
