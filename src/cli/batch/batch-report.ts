/**
 * The batch's account of every input: what settled before the backend started, each file as it
 * finishes, and at the end what never finished, so the summary counts every input.
 */
import type { Job } from "./one.js";
import { Tally, type FileResult, type Reporter, type Summary } from "./report.js";
import { diskErrnoOfMessage, type DiskErrno } from "./disk-full.js";

/** What a batch reports through. */
export type BatchReport = ReturnType<typeof createBatchReport>;

/**
 * The batch's report: `begin` once the backend is ready (the settled inputs first), `record` per
 * file, and `finish`, which counts what never finished as cancelled (or not attempted, when the
 * disk stopped it), so every output is in the summary: ok + failed + skipped + upToDate +
 * cancelled + notAttempted = total.
 */
export function createBatchReport(
  reporter: Reporter,
  early: readonly FileResult[],
  pending: readonly Job[],
  inputs?: number,
) {
  const startedAt = performance.now();
  const tally = new Tally();
  /** The outputs of `pending` reported so far (input NUL output): the others never finished. */
  const reported = new Set<string>();
  /** A pool's member labels: the summary then counts the images each processed. */
  let members: readonly string[] | undefined;
  let started = false;
  const report = (result: FileResult): void => {
    tally.add(result);
    reporter.file(result);
  };
  const record = (result: FileResult): void => {
    reported.add(`${result.input}\0${result.output}`);
    report(result);
  };
  const begin = (): void => {
    if (started) return;
    started = true;
    reporter.start(early.length + pending.length);
    for (const result of early) report(result);
  };
  const finish = (stopped: Summary["stopped"]): Summary => {
    begin();
    // Stopped by the disk, the rest was never tried; by a signal or a closed stdout, cancelled.
    const status = stopped === "ENOSPC" || stopped === "EDQUOT" || stopped === "EROFS" ? "not-attempted" : "cancelled";
    for (const job of pending) {
      if (!reported.has(`${job.input}\0${job.shownOutput}`))
        record({ input: job.input, output: job.shownOutput, status, ms: 0 });
    }
    const summary = tally.summary(startedAt, stopped, members, inputs);
    reporter.finish(summary);
    return summary;
  };
  return {
    reporter,
    record,
    begin,
    finish,
    countBy: (labels: readonly string[]): void => {
      members = labels;
    },
    /** The command fails as a whole: a started batch still says what got done; else the progress line goes. */
    abandon: (): void => {
      if (started) finish(null);
      else reporter.stop();
    },
  };
}

/**
 * The first output the disk refuses (full, over quota, read-only) stops the batch: every later
 * one would fail the same way, and a batch of thousands printed as many failures. That file is
 * the one failure reported; what was in flight or never started is not attempted (`finish`).
 * `record` stands in for the report's.
 */
export interface DiskStop {
  /** Aborted at the first output the disk refused. */
  signal: AbortSignal;
  record: (result: FileResult) => void;
  /** The refusal's errno, once there was one. */
  errno: () => DiskErrno | undefined;
}

export function diskStop(report: BatchReport): DiskStop {
  const halt = new AbortController();
  let errno: DiskErrno | undefined;
  const record = (result: FileResult): void => {
    const isDisk = result.status === "failed" && result.code === "E_DISK";
    if (isDisk && errno !== undefined) {
      // In flight when the disk filled: not written, and said once already.
      report.record({ input: result.input, output: result.output, status: "not-attempted", ms: result.ms });
      return;
    }
    report.record(result);
    if (isDisk) {
      errno = diskErrnoOfMessage(result.error ?? "") ?? "ENOSPC";
      halt.abort();
    }
  };
  return { signal: halt.signal, record, errno: (): DiskErrno | undefined => errno };
}
