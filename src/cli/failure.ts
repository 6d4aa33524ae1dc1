/**
 * How a failed run reports itself, for the one top-level catch in index.ts. Every failure gets a
 * code and an exit status (docs/cli.md "Exit codes"): the human line always goes to stderr (talk), and
 * with `--json` the run also ends with one `{"error":{"code","message"[,"detail"]}}` line on stdout,
 * so a script reading stdout learns why it failed without parsing stderr.
 */
import { CommanderError } from "commander";
import { errorCodes, isAciimgError, type ErrorCode } from "../errors.js";

/** What the catch needs to report: the code, the human message and, for AciimgErrors, their detail. */
export interface Failure {
  code: ErrorCode;
  message: string;
  detail?: Record<string, unknown>;
  /** Already printed on stderr (commander prints its own usage errors). */
  printed: boolean;
}

/** Commander's non-error exits (help asked for, version). */
const cleanExits = new Set([
  "commander.helpDisplayed",
  "commander.help",
  "commander.version",
  "commander.executeSubCommandAsync",
]);

/**
 * True when `--json` was given. Read from argv rather than parsed options, because a usage error
 * stops commander before it has parsed anything; an argument after `--` is an operand, not a flag.
 */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--", 2);
  return argv.slice(2, end === -1 ? undefined : end).includes("--json");
}

/** Commander's message as its one stderr line reads (program.ts configureOutput): no "error: " prefix, one line. */
export function oneLine(text: string): string {
  return text
    .replace(/^error: /, "")
    .trimEnd()
    .replace(/\s*\n\s*/g, " ");
}

/**
 * Classifies what the top-level catch caught; undefined for commander's clean exits (help, version).
 * `aciimg` with no command has printed the help on stderr: a usage error, since nothing was done.
 */
export function failureOf(error: unknown): Failure | undefined {
  if (error instanceof CommanderError) {
    if (error.code === "commander.help" && error.exitCode !== 0) {
      return { code: "E_USAGE", message: "no command given: run aciimg --help for the commands", printed: true };
    }
    if (cleanExits.has(error.code)) return undefined;
    return { code: "E_USAGE", message: oneLine(error.message), printed: true };
  }
  if (isAciimgError(error))
    return {
      code: error.code,
      message: error.message,
      ...(error.detail ? { detail: error.detail } : {}),
      printed: false,
    };
  const message = error instanceof Error ? error.message : String(error);
  return { code: "E_INTERNAL", message: `unexpected error (a bug; please report it): ${message}`, printed: false };
}

/** The `--json` line for a failure. */
export function failureJson(failure: Failure): string {
  const { code, message, detail } = failure;
  return `${JSON.stringify({ error: { code, message, ...(detail ? { detail } : {}) } })}\n`;
}

/** The exit status for a failure's code. */
export function exitCodeOf(failure: Failure): number {
  return errorCodes[failure.code];
}
