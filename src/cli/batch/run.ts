/**
 * `aciimg process`: validates the operations, expands the inputs, plans every output and checks
 * every input before any backend is woken; then ensures one backend, marks the batch as work (so
 * reap keeps it), and runs the files through `engine.call` with bounded concurrency. A batch
 * carries on past failures, counts every input in its summary, and exits 1 if any file failed
 * (DESIGN.md §7).
 */
import { stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { dirname, isAbsolute, relative } from "node:path";
import type { Command } from "commander";
import { AciimgError, isAciimgError, usageError, type ErrorCode } from "../../errors.js";
import type { BackendRecord, ImageRequest } from "../../engine/types.js";
import { backendSpecOf, screensSvg, type Config } from "../../config.js";
import { failOnParam, type FailOn } from "../../protocol/fail-on.js";
import { driftWarning, oversizeMessage } from "../backend-settings.js";
import { canShowProgress, configOf, withEngine, type GlobalOptions } from "../context.js";
import { checkedFile } from "./input-file.js";
import { expandInputs, folderIdentity, type InputItem } from "./inputs.js";
import { outputTargetOf, outputTypeFor, planOutputs, prepareFolders, removeEmptyFolders, stdinTargetOf, type OutputTarget } from "./output-plan.js";
import { ignoresQuality, outputTypeOfFile, qualityIgnoredWarning } from "./output-types.js";
import { planRequest, type ImagePlan, type StepCollector } from "./plan.js";
import { createReporter, summarize, type FileResult, type Reporter, type Summary } from "./report.js";
import type { ReporterOptions } from "./report.js";
import { diskAdvice, diskErrnoOfMessage, diskTitle, type DiskErrno } from "./disk-full.js";
import { lockOutputFolder, type OutputLock } from "./output-lock.js";
import { backendCpus, runStdin } from "./io.js";
import { runJobs, type Job, type Route } from "./one.js";
import { stopSignal, stopWords } from "../signals.js";
import type { ProcessOptions } from "../commands/process.js";

/** Runs the command; resolves with the exit code. */
export async function runProcess(inputs: string[], options: ProcessOptions, steps: StepCollector, command: Command): Promise<number> {
  const globals = command.optsWithGlobals<GlobalOptions & ProcessOptions>();
  const { backends, withLocal, allowSvgFilters, failOn } = options;
  const config = configOf(globals, { backends, withLocal, allowSvgFilters, failOn });
  const mode = globals.json ? "json" : canShowProgress() ? "tty" : "plain";
  const cwd = process.cwd();
  // A pool the provider cannot have is a usage error before any input is read (stdin included).
  // A remote backend without --concurrency is a pool of one, for its window that adapts to the link.
  const pool = (await import("../../compose.js")).wantsPool(config) || (config.provider === "aci" && options.concurrency === undefined);
  if (inputs.includes("-")) {
    if (inputs.length > 1) throw usageError("<inputs>", "either - (stdin) alone or files, directories and globs", inputs.join(" "));
    // A terminal on either end is a mistake: typing an image never ends, printing one garbles the screen.
    if (process.stdin.isTTY) throw new AciimgError("E_USAGE", "-: stdin is a terminal; pipe or redirect an image into it (aciimg process - < photo.jpg)");
    if (options.output === undefined && process.stdout.isTTY) throw new AciimgError("E_USAGE", "-: stdout is a terminal, and image bytes would garble it; write to a file with -o FILE, or redirect (> out.jpg)");
    const target = options.output === undefined ? undefined : await stdinTargetOf(options.output, cwd);
    if (target && options.output !== undefined) steps.type = outputTypeFor(target, steps.type, options.output);
    const stdinTarget = target && { ...target, shown: displayPath(target.path) };
    return runStdin(config, withFailOn(planRequest(steps), config.failOn), stdinTarget, mode);
  }
  if (options.output === undefined) {
    const hint = "a file or folder to write to, such as -o out/ (only - reads stdin and writes to stdout)";
    throw new AciimgError("E_USAGE", `-o is required: ${hint}`);
  }
  const target = await outputTargetOf(options.output, inputs, cwd);
  steps.type = outputTypeFor(target, steps.type, options.output);
  const plan = withFailOn(planRequest(steps), config.failOn);
  const screenSvg = screensSvg(config);
  // One batch at a time into a folder (output-lock.ts), locked before the plan looks at what is
  // there. A single file or stdout is not locked: a run writes it whole or not at all (atomic rename).
  const created = target.kind === "folder" ? await prepareFolders([target.root]) : [];
  let lock: OutputLock | undefined;
  try {
    if (target.kind === "folder") lock = lockOutputFolder(target.root, displayPath(target.root));
    const batch = await planBatch(inputs, target, plan, { ...options, screenSvg }, cwd);
    return await runBatch(config, { ...options, screenSvg }, plan, target, batch, mode, pool);
  } finally {
    lock?.release();
    await removeEmptyFolders(created);
  }
}

/**
 * Runs a planned batch: reports the inputs already settled, starts the backend (or pool), sends
 * the rest, and ends with the summary. A stop (a signal, a closed stdout, the output's disk full)
 * counts what was not done as cancelled or not attempted.
 */
async function runBatch(
  config: Config,
  options: BatchOptions,
  plan: ImagePlan,
  target: OutputTarget,
  batch: PlannedBatch,
  mode: ReporterOptions["mode"],
  pool: boolean,
): Promise<number> {
  const { early, pending, linksNotFollowed } = batch;
  const { screenSvg } = options;

  const report = createBatchReport(await createReporter({ mode, stdout: process.stdout, stderr: process.stderr }), early, pending);
  if (linksNotFollowed > 0) report.reporter.note(`aciimg: passed by ${linksNotFollowed} symbolic link(s) met while searching (--follow-symlinks follows them)`);
  const isQualityIgnored = plan.quality !== undefined && pending.some((job) => ignoresQuality(job.type));
  if (isQualityIgnored) report.reporter.note(qualityIgnoredWarning);
  if (pending.length === 0) {
    const only = early[0];
    if (early.length === 1 && only?.status === "failed" && mode !== "json") throw new AciimgError(only.code as ErrorCode, only.error ?? "no input");
    return report.finish(null).failed > 0 ? 1 : 0;
  }

  const inPlace = pending.filter((job) => job.direct).map((job) => job.output);
  const folders = new Set(pending.filter((job) => !job.direct).map((job) => dirname(job.output)));
  const created = await prepareFolders(folders, inPlace);
  const stop = stopSignal();
  const disk = diskStop(report);
  const signal = AbortSignal.any([stop.signal, disk.signal]);
  const requested = backendSpecOf(config);
  const fits = (size: number, name: string, record: BackendRecord): string | undefined => oversizeMessage(size, record, requested, name);
  try {
    if (pool) {
      const { runPoolBatch } = await import("./pool.js");
      const { concurrency } = options;
      const poolReport = { ...report, record: disk.record };
      await runPoolBatch({ config, plan, signal, fits, concurrency, report: poolReport }, pending);
    }
    else await withEngine(config, async (engine) => {
      const { reporter } = report;
      reporter.phase(`connecting to the ${config.provider} backend…`);
      const ready = await engine.ensure({ signal: stop.signal, onPhase: (phase) => reporter.phase(`starting a ${config.provider} backend… ${phase}`) });
      const warning = driftWarning(ready.record, ready.drift);
      if (warning) reporter.note(`aciimg: warning: ${warning}`);
      // Two images per backend CPU: one uploading or downloading while the other is processed,
      // so the backend never waits on the network between images.
      const concurrency = options.concurrency ?? 2 * ((await backendCpus(ready.record)) ?? availableParallelism());
      report.begin();
      const backend = { record: ready.record, send: (request: ImageRequest) => engine.call(request) };
      const route: Route = async (attempt) => ({ value: await attempt(backend) });
      // Marked as work for the whole batch, so reap keeps the backend between images.
      const work = engine.beginWork();
      try {
        const context = { plan, signal, fits, screenSvg, route, requestTimeoutMs: config.requestTimeoutMs };
        await runJobs(context, pending, concurrency, disk.record);
      } finally {
        await work.end();
      }
    });
  } catch (error) {
    // Stopped while the backend was being started: nothing was sent, every input is cancelled below.
    if (!stop.signal.aborted) {
      // What finished is reported (a failing batch says what got done), then the error is the exit.
      report.abandon();
      throw error;
    }
  } finally {
    stop.dispose();
    await removeEmptyFolders(created);
  }
  const errno = disk.errno();
  if (errno !== undefined) {
    const summary = report.finish(errno);
    const where = target.kind === "folder" ? target.root : target.path;
    const again = target.kind === "folder" ? "run the same command with --skip-existing to do the rest"
      : "run it again";
    throw new AciimgError(
      "E_DISK",
      `${diskTitle(errno)} writing to ${displayPath(where)}: ${summary.ok} written, ` +
        `${summary.notAttempted} not attempted, ${summary.failed} failed; ` +
        `outputs written are complete, nothing partial was left. ${capitalized(diskAdvice(errno))}, then ${again}`,
      { detail: { errno } },
    );
  }
  if (stop.signal.aborted) {
    const summary = report.finish(stop.received());
    throw new AciimgError("E_ABORTED", `stopped by ${stopWords(stop.received())}: ${summary.ok} of ${summary.total} images processed, ${summary.cancelled} cancelled; outputs written are complete, nothing partial was left`);
  }
  return report.finish(null).failed > 0 ? 1 : 0;
}

/**
 * The plan with the damage level the built-in backend decodes at (fail-on.ts). Sent whatever the
 * level, so the answer does not depend on the backend's default; imaginary ignores it.
 */
function withFailOn(plan: ImagePlan, level: FailOn): ImagePlan {
  const requestFor: ImagePlan["requestFor"] = (type) => {
    const { op, query } = plan.requestFor(type);
    const sent = new URLSearchParams(query);
    sent.set(failOnParam, level);
    return { op, query: sent };
  };
  return { ...plan, requestFor };
}

/** The flags that shape the planning, and whether SVG inputs are screened (config.ts screensSvg). */
type BatchOptions = ProcessOptions & { screenSvg: boolean };

/** What planBatch decided. */
type PlannedBatch = Awaited<ReturnType<typeof planBatch>>;

/**
 * The first output the disk refuses (full, over quota, read-only) stops the batch: every later
 * one would fail the same way, and a batch of thousands printed as many failures. That file is
 * the one failure reported; what was in flight or never started is not attempted (`finish`).
 * `record` stands in for the report's.
 */
function diskStop(report: ReturnType<typeof createBatchReport>) {
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

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Everything decided before a backend is woken: the inputs found, their outputs, and a check of
 * every file to send. `early` holds the inputs already settled (failed or skipped); `pending` the
 * files to send, each checked, so a batch of only broken files costs nothing (on ACI, a billed
 * container).
 */
async function planBatch(
  inputs: string[], target: OutputTarget, plan: ImagePlan, options: BatchOptions, cwd: string,
): Promise<{ early: FileResult[]; pending: Job[]; linksNotFollowed: number }> {
  const expansion = await expandInputs(inputs, {
    cwd,
    followSymlinks: options.followSymlinks === true,
    outputFolder: target.kind === "folder" ? await folderIdentity(target.root) : undefined,
  });
  const typeOf = (item: InputItem) => outputTypeOfFile(plan.outputType, item.realPath);
  const { planned, refused } = await planOutputs(expansion.items, target, typeOf, displayPath);
  const early: FileResult[] = [
    ...expansion.failures.map(({ input, error }) => failed(input, null, error)),
    ...refused.map(({ item, output, reason }) => failed(displayPath(item.path), displayPath(output), new AciimgError("E_OUTPUT", `refusing to write ${displayPath(output)}: ${reason}`))),
  ];
  const pending: Job[] = [];
  for (const { item, output, type, direct } of planned) {
    const input = displayPath(item.path);
    const shownOutput = displayPath(output);
    if (options.skipExisting && !direct && (await stat(output).then((s) => s.isFile() && s.size > 0, () => false))) {
      early.push({ input, output: shownOutput, status: "skipped", ms: 0 });
      continue;
    }
    // By the real path, links resolved when the inputs were found: what the file is now is what
    // every later open must find.
    const checked = checkedFile(item.realPath, input, undefined, options.screenSvg);
    if (checked instanceof AciimgError) early.push(failed(input, shownOutput, checked));
    else pending.push({
      input, realPath: item.realPath, identity: checked.identity, output, shownOutput, type, direct,
    });
  }
  return { early, pending, linksNotFollowed: expansion.linksNotFollowed };
}

/**
 * The batch's report: `begin` once the backend is ready (the settled inputs first), `record` per
 * file, and `finish`, which counts what never finished as cancelled (or not attempted, when the
 * disk stopped it), so every input is in the summary: ok + failed + skipped + cancelled +
 * notAttempted = total.
 */
export function createBatchReport(reporter: Reporter, early: readonly FileResult[], pending: readonly Job[]) {
  const startedAt = performance.now();
  const results: FileResult[] = [];
  /** A pool's member labels: the summary then counts the images each processed. */
  let members: readonly string[] | undefined;
  let started = false;
  const record = (result: FileResult): void => {
    results.push(result);
    reporter.file(result);
  };
  const begin = (): void => {
    if (started) return;
    started = true;
    reporter.start(early.length + pending.length);
    for (const result of early) record(result);
  };
  const finish = (stopped: Summary["stopped"]): Summary => {
    begin();
    const reported = new Set(results.map((r) => r.input));
    // Stopped by the disk, the rest was never tried; by a signal or a closed stdout, cancelled.
    const status = stopped === "ENOSPC" || stopped === "EDQUOT" || stopped === "EROFS" ? "not-attempted"
      : "cancelled";
    for (const job of pending) {
      if (!reported.has(job.input)) record({ input: job.input, output: job.shownOutput, status, ms: 0 });
    }
    const summary = summarize(results, startedAt, stopped, members);
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

/** A path as people read it: relative to the working directory when inside it, else absolute. */
function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === "" || rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

function failed(input: string, output: string | null, error: AciimgError): FileResult {
  return { input, output, status: "failed", ms: 0, code: error.code, error: error.message };
}
