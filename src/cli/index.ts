/**
 * The CLI's entry and its one top-level catch (changesets' index.ts): an AciimgError prints its
 * message (stack with --verbose) and exits with its documented code; a commander usage error has
 * already printed one line and exits 2; anything else is a bug: stack, exit 70. With --json, every
 * failure also ends with one `{"error":{…}}` line on stdout (failure.ts).
 */
import { setFlagsFromString } from "node:v8";
import { isAciimgError } from "../errors.js";
import { diskError } from "./batch/disk-full.js";
import { exitCodeOf, failureJson, failureOf, wantsJson } from "./failure.js";
import { createProgram } from "./program.js";

/**
 * undici parses HTTP with llhttp compiled to WebAssembly. V8 re-compiles hot wasm with its
 * optimizing tier on a background thread, and Node waits for that compile before it exits
 * (nodejs/node#36616): ~70 ms of CPU and wall time at the end of every command, for parser code
 * a CLI run barely uses. The baseline tier is enough here. Set before the first connection, which
 * is when undici compiles the module.
 */
setFlagsFromString("--liftoff-only");

// A reader that goes away (`aciimg … | head`) closes stdout (or stderr), and every later write
// fails with EPIPE. That is the reader's choice, not a bug: a batch stops as on Ctrl-C
// (signals.ts), anything else finishes without the rest of its output. Other errors stay fatal.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") return;
    // Redirected to a full or read-only disk (`> /dev/full`): nothing more can be written there, and
    // the run ends as E_DISK (exit 74), not with a stack; process.exit still releases an output lock.
    const disk = diskError(`cannot write standard ${stream === process.stdout ? "output" : "error"}`, error);
    if (disk === undefined) throw error;
    if (stream === process.stdout) process.stderr.write(`aciimg: ${disk.message}\n`);
    process.exit(disk.exitCode);
  });
}

/** The stderr lines for an error: the message (stack and cause with --verbose); a bug always gets its stack. */
function tellPerson(error: unknown, verbose: boolean): void {
  if (isAciimgError(error)) {
    process.stderr.write(`aciimg: ${verbose && error.stack ? error.stack : error.message}\n`);
    if (verbose && error.cause instanceof Error)
      process.stderr.write(`caused by: ${error.cause.stack ?? error.cause.message}\n`);
    return;
  }
  process.stderr.write(
    `aciimg: unexpected error (a bug; please report it):\n` +
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
}

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
    const failure = failureOf(error);
    if (failure === undefined) return 0;
    // commander writes its own usage line (or the help) to stderr; everything else is said here.
    if (!failure.printed) tellPerson(error, verbose);
    if (wantsJson(argv)) process.stdout.write(failureJson(failure));
    return exitCodeOf(failure);
  }
}

process.exitCode = await main(process.argv);
