/**
 * How `aciimg process` talks: `--json` lines on stdout (one per file, then a summary), an ora
 * progress line on a TTY (done/total, images/s, ETA, failures), plain greppable lines otherwise.
 * Data on stdout, talk on stderr (STYLE.md).
 */
import type { Writable } from "node:stream";
import { formatDuration } from "../../units.js";
import { stopWords, type StopReason } from "../signals.js";
import { diskTitle, type DiskErrno } from "./disk-full.js";

/** One file's outcome; the `--json` line format (docs/cli.md "process --json"). */
export interface FileResult {
  input: string;
  output: string | null;
  /**
   * `cancelled`: not finished because the batch was stopped (SIGINT/SIGTERM, a closed stdout);
   * `not-attempted`: not written because the output's disk took no more (full or read-only).
   * Nothing was written for either.
   */
  status: "ok" | "failed" | "skipped" | "up-to-date" | "cancelled" | "not-attempted";
  bytes?: number;
  width?: number;
  height?: number;
  /** sha256 of the output's bytes, hex. */
  hash?: string;
  /** Fetched from the shared cache (--cache), not made by a backend. */
  cached?: boolean;
  ms: number;
  error?: string;
  code?: string;
  /** Said of an image written with a loss the person should know of: an animation flattened to its first frame. */
  warning?: string;
  /** The pool member that processed it ("aci-2", "local"); only in a batch run on a pool. */
  backend?: string;
}

/**
 * Counts every output of every input found (an input that failed before its outputs were planned
 * counts once): ok + failed + skipped + upToDate + cancelled + notAttempted = total.
 */
export interface Summary {
  total: number;
  /** Inputs found (each with one output or more: renditions). */
  inputs: number;
  ok: number;
  failed: number;
  skipped: number;
  /** Already made for the same input, flags and backend, and still there (the incremental record). */
  upToDate: number;
  /** Of the ok ones, fetched from the shared cache (--cache). */
  cached: number;
  cancelled: number;
  notAttempted: number;
  /**
   * What stopped the batch (a signal, EPIPE: stdout closed, or the output's disk: ENOSPC, EDQUOT,
   * EROFS), or null when it ran to the end.
   */
  stopped: StopReason | DiskErrno | null;
  ms: number;
  imagesPerSecond: number;
  /** Every failed input with its code and message. */
  failures: Array<{ input: string; code: string; error: string }>;
  /** Images each pool member processed ("aci-1": 30, "local": 12); only in a batch run on a pool. */
  backends?: Record<string, number>;
}

export interface Reporter {
  /** Talk before the batch starts ("starting backend…"). */
  phase(text: string): void;
  /** A line for the person (a warning), on stderr, above any progress line. */
  note(text: string): void;
  start(total: number): void;
  file(result: FileResult): void;
  finish(summary: Summary): void;
  /** Stops any progress display without a summary (the command is failing). */
  stop(): void;
}

export interface ReporterOptions {
  mode: "json" | "tty" | "plain";
  stdout: Writable;
  stderr: Writable;
}

/** Rate and ETA from counts and elapsed time. */
export function progressText(done: number, total: number, failed: number, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const eta = rate > 0 && done < total ? ` · ETA ${formatDuration(((total - done) / rate) * 1000)}` : "";
  return `${done}/${total} · ${rate.toFixed(1)} img/s${eta}${failed ? ` · ${failed} failed` : ""}`;
}

function summaryText(s: Summary): string {
  if (s.upToDate > 0 && s.upToDate === s.total)
    return `nothing to do: all ${s.total} outputs of ${s.inputs} input${s.inputs === 1 ? "" : "s"} are up to date`;
  const stopped = s.stopped ? `stopped by ${stopText(s.stopped)}: ` : "";
  const head =
    `${stopped}${s.ok}/${s.total} images ` +
    `processed in ${formatDuration(s.ms)} (${s.imagesPerSecond.toFixed(1)} img/s)`;
  const skipped = s.skipped ? `, ${s.skipped} skipped (already there)` : "";
  const upToDate = s.upToDate ? `, ${s.upToDate} up to date` : "";
  const cached = s.cached ? `, ${s.cached} from the cache` : "";
  const inputs = s.inputs !== s.total ? ` from ${s.inputs} input${s.inputs === 1 ? "" : "s"}` : "";
  const cancelled = s.cancelled ? `, ${s.cancelled} cancelled (not written)` : "";
  const notAttempted = s.notAttempted ? `, ${s.notAttempted} not attempted` : "";
  const by = s.backends
    ? ` by ${
        Object.entries(s.backends)
          .map(([label, n]) => `${label} ${n}`)
          .join(", ") || "none"
      }`
    : "";
  const counts = `${head}${inputs}${by}${cached}${upToDate}${skipped}${cancelled}${notAttempted}`;
  if (s.failed === 0) return counts;
  // The write that found the disk full was said on its own line, and the stop says it again: once is enough.
  const listed = s.failures.filter((f) => f.code !== "E_DISK");
  if (listed.length === 0) return `${counts}, ${s.failed} failed`;
  return `${counts}, ${s.failed} failed:\n${listed.map((f) => `  ${f.input}: ${f.error}`).join("\n")}`;
}

/** How a stop reads after "stopped by": "SIGINT", "disk full (ENOSPC)". */
function stopText(stopped: StopReason | DiskErrno): string {
  const isDisk = stopped === "ENOSPC" || stopped === "EDQUOT" || stopped === "EROFS";
  return isDisk ? diskTitle(stopped) : stopWords(stopped);
}

/**
 * The summary of `results` (one per input found), over the batch's wall time; with `members` (a
 * pool's labels), how many images each processed.
 */
export function summarize(
  results: readonly FileResult[],
  startedAt: number,
  stopped: Summary["stopped"],
  members?: readonly string[],
  inputs = results.length,
): Summary {
  const tally = new Tally();
  for (const result of results) tally.add(result);
  return tally.summary(startedAt, stopped, members, inputs);
}

/** A batch's results counted as they come, keeping only the failures: a batch of 10,000 holds no list of them. */
export class Tally {
  private readonly counts = new Map<FileResult["status"] | "cached", number>();
  private readonly byBackend = new Map<string, number>();
  private readonly failures: Summary["failures"] = [];
  private total = 0;

  add(result: FileResult): void {
    this.total += 1;
    this.bump(this.counts, result.status);
    if (result.status === "ok" && result.cached) this.bump(this.counts, "cached");
    if (result.backend !== undefined) this.bump(this.byBackend, result.backend);
    if (result.status === "failed")
      this.failures.push({ input: result.input, code: result.code ?? "E_INTERNAL", error: result.error ?? "" });
  }

  /** The summary so far, over the batch's wall time since `startedAt`. */
  summary(startedAt: number, stopped: Summary["stopped"], members?: readonly string[], inputs = this.total): Summary {
    const ms = Math.round(performance.now() - startedAt);
    const count = (status: FileResult["status"] | "cached"): number => this.counts.get(status) ?? 0;
    const ok = count("ok");
    return {
      total: this.total,
      inputs,
      ok,
      failed: count("failed"),
      skipped: count("skipped"),
      upToDate: count("up-to-date"),
      cached: count("cached"),
      cancelled: count("cancelled"),
      notAttempted: count("not-attempted"),
      stopped,
      ms,
      imagesPerSecond: ms > 0 ? Math.round((ok * 1000 * 10) / ms) / 10 : 0,
      failures: [...this.failures],
      ...(members
        ? { backends: Object.fromEntries(members.map((label) => [label, this.byBackend.get(label) ?? 0])) }
        : {}),
    };
  }

  private bump<K>(counts: Map<K, number>, key: K): void {
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
}

/**
 * Creates the reporter for the mode; the TTY one loads ora on demand.
 * (Long for its three reporters, side by side so their lines stay alike.)
 */
export async function createReporter(options: ReporterOptions): Promise<Reporter> {
  const { stdout, stderr } = options;
  if (options.mode === "json") {
    return {
      phase: () => {},
      note: (text) => stderr.write(`${text}\n`),
      start: () => {},
      file: (result) => stdout.write(`${JSON.stringify(result)}\n`),
      finish: (summary) => stdout.write(`${JSON.stringify({ summary })}\n`),
      stop: () => {},
    };
  }
  if (options.mode === "plain") {
    return {
      // Plain output stays greppable: one line per file and a summary, no chatter.
      phase: () => {},
      note: (text) => stderr.write(`${text}\n`),
      start: () => {},
      file: (r) => {
        // Counted in the summary; a stopped batch of thousands would flood.
        if (r.status === "cancelled" || r.status === "not-attempted" || r.status === "up-to-date") return;
        if (r.status === "failed") stderr.write(`failed ${r.input}: ${r.error ?? "unknown error"}\n`);
        else if (r.status === "skipped") stderr.write(`skipped ${r.input}: ${r.output} exists\n`);
        else
          stdout.write(
            `ok ${r.input} -> ${r.output}${r.width ? ` ${r.width}x${r.height}` : ""} ` +
              `${r.bytes} B ${Math.round(r.ms)} ms${r.backend ? ` on ${r.backend}` : ""}\n`,
          );
        if (r.warning) stderr.write(`warning ${r.input}: ${r.warning}\n`);
      },
      finish: (summary) => stderr.write(`${summaryText(summary)}\n`),
      stop: () => {},
    };
  }
  const { default: ora } = await import("ora");
  // discardStdin off: ora's default puts the terminal in raw mode, which turns Ctrl-C into a byte
  // that nothing reads (so the batch ran on); left alone, the terminal sends SIGINT as usual and
  // nothing needs restoring if this process dies.
  const spinner = ora({ stream: stderr as NodeJS.WriteStream, text: "", discardStdin: false });
  let total = 0;
  let done = 0;
  let failed = 0;
  let startedAt = 0;
  return {
    phase: (text) => {
      spinner.start(text);
    },
    note: (text) => {
      spinner.clear();
      stderr.write(`${text}\n`);
      if (spinner.isSpinning) spinner.render();
    },
    start: (count) => {
      total = count;
      startedAt = performance.now();
      // ora's start() on a running spinner only swaps the text; draw the 0/N line now.
      if (spinner.isSpinning) {
        spinner.text = progressText(0, total, 0, 0);
        spinner.render();
      } else spinner.start(progressText(0, total, 0, 0));
    },
    file: (r) => {
      if (r.status === "cancelled" || r.status === "not-attempted") return;
      done += 1;
      if (r.status === "failed") {
        failed += 1;
        // Print the failure above the progress line, then redraw it.
        spinner.clear();
        stderr.write(`failed ${r.input}: ${r.error ?? "unknown error"}\n`);
      } else if (r.warning) {
        spinner.clear();
        stderr.write(`warning ${r.input}: ${r.warning}\n`);
      }
      spinner.text = progressText(done, total, failed, performance.now() - startedAt);
    },
    finish: (summary) => {
      if (summary.failed > 0 || summary.stopped) spinner.fail(summaryText(summary));
      else spinner.succeed(summaryText(summary));
    },
    stop: () => {
      if (spinner.isSpinning) spinner.stop();
    },
  };
}
