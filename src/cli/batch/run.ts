/**
 * `aciimg process`: validates the operations, expands the inputs, plans every output and checks
 * every input before any backend is woken; then ensures one backend, marks the batch as work (so
 * reap keeps it), and runs the files through `engine.call` with bounded concurrency. A batch
 * carries on past failures, counts every input in its summary, and exits 1 if any file failed
 * (DESIGN.md §7).
 */
import { availableParallelism } from "node:os";
import { dirname } from "node:path";
import type { Command } from "commander";
import { AciimgError, usageError, type ErrorCode } from "../../errors.js";
import type { BackendRecord, ImageRequest } from "../../engine/types.js";
import { backendSpecOf, screensSvg, type Config } from "../../config.js";
import { failOnParam, type FailOn } from "../../protocol/fail-on.js";
import { driftWarning, oversizeMessage } from "../backend-settings.js";
import { canShowProgress, configOf, withEngine, type GlobalOptions } from "../context.js";
import {
  outputTargetOf,
  outputTypeFor,
  prepareFolders,
  removeEmptyFolders,
  stdinTargetOf,
  type OutputTarget,
} from "./output-plan.js";
import { ignoresQuality, qualityIgnoredWarning } from "./output-types.js";
import { planRequest, type ImagePlan, type StepCollector } from "./plan.js";
import { checkImaginaryCan } from "./backend-formats.js";
import { createReporter, type ReporterOptions, type Summary } from "./report.js";
import { diskAdvice, diskTitle, type DiskErrno } from "./disk-full.js";
import { lockOutputFolder, type OutputLock } from "./output-lock.js";
import { backendCpus, runStdin } from "./io.js";
import { runJobs, type BatchContext, type Job, type Route } from "./one.js";
import { createBatchReport, diskStop, type BatchReport } from "./batch-report.js";
import { displayPath, planBatch, type BatchOptions, type PlannedBatch } from "./prepare.js";
import { checkedForStdin, openMaking, type MakingRun } from "./making.js";
import { writeFromCache } from "./cache-run.js";
import { reportDryRun } from "./dry-run.js";
import { stopSignal, stopWords } from "../signals.js";
import type { ProcessOptions } from "../commands/process.js";

type Mode = ReporterOptions["mode"];
/** Why an input of `size` bytes is too large for `record`'s backend; undefined when it fits. */
type Fits = (size: number, name: string, record: BackendRecord) => string | undefined;

/** Runs the command; resolves with the exit code. */
export async function runProcess(
  inputs: string[],
  options: ProcessOptions,
  steps: StepCollector,
  command: Command,
): Promise<number> {
  const globals = command.optsWithGlobals<GlobalOptions & ProcessOptions>();
  const { backends, withLocal, allowSvgFilters, failOn } = options;
  const config = configOf(globals, { backends, withLocal, allowSvgFilters, failOn });
  const mode = globals.json ? "json" : canShowProgress() ? "tty" : "plain";
  const cwd = process.cwd();
  // A pool the provider cannot have is a usage error before any input is read (stdin included).
  // A remote backend without --concurrency is a pool of one, for its window that adapts to the link.
  const pool =
    (await import("../../compose.js")).wantsPool(config) ||
    (config.provider === "aci" && options.concurrency === undefined);
  if (inputs.includes("-")) return processStdin(inputs, options, steps, config, mode, cwd);
  const output = requiredOutput(options);
  const target = await outputTargetOf(output, inputs, cwd);
  if (steps.types.length < 2) steps.type = outputTypeFor(target, steps.type, output);
  const plan = withFailOn(planRequest(steps), config.failOn);
  checkImaginaryCan(config, steps);
  return processInto(target, inputs, plan, { ...options, screenSvg: screensSvg(config) }, { config, mode, cwd, pool });
}

/** `-`: one image from stdin, to stdout or the file -o names. */
async function processStdin(
  inputs: string[],
  options: ProcessOptions,
  steps: StepCollector,
  config: Config,
  mode: Mode,
  cwd: string,
): Promise<number> {
  if (inputs.length > 1)
    throw usageError("<inputs>", "either - (stdin) alone or files, directories and globs", inputs.join(" "));
  // A terminal on either end is a mistake: typing an image never ends, printing one garbles the screen.
  if (process.stdin.isTTY)
    throw new AciimgError(
      "E_USAGE",
      "-: stdin is a terminal; pipe or redirect an image into it (aciimg process - < photo.jpg)",
    );
  if (options.output === undefined && process.stdout.isTTY)
    throw new AciimgError(
      "E_USAGE",
      "-: stdout is a terminal, and image bytes would garble it; write to a file with -o FILE, or redirect (> out.jpg)",
    );
  const target = options.output === undefined ? undefined : await stdinTargetOf(options.output, cwd);
  if (target && options.output !== undefined) steps.type = outputTypeFor(target, steps.type, options.output);
  const stdinTarget = target && { ...target, shown: displayPath(target.path) };
  checkImaginaryCan(config, steps);
  const plan = checkedForStdin(planRequest(steps), options);
  return runStdin(config, withFailOn(plan, config.failOn), stdinTarget, mode);
}

/** Files, folders and globs need somewhere to go. */
function requiredOutput(options: ProcessOptions): string {
  if (options.output !== undefined) return options.output;
  const hint = "a file or folder to write to, such as -o out/ (only - reads stdin and writes to stdout)";
  throw new AciimgError("E_USAGE", `-o is required: ${hint}`);
}

/** Plans the batch into `target` and runs it, holding the output folder's lock throughout. */
async function processInto(
  target: OutputTarget,
  inputs: string[],
  plan: ImagePlan,
  options: BatchOptions,
  run: { config: Config; mode: Mode; cwd: string; pool: boolean },
): Promise<number> {
  // One batch at a time into a folder (output-lock.ts), locked before the plan looks at what is
  // there. A single file or stdout is not locked: a run writes it whole or not at all (atomic rename).
  // A dry run writes nothing: no folder, no lock.
  const isFolder = target.kind === "folder" && !options.dryRun;
  const created = isFolder ? await prepareFolders([target.root]) : [];
  let lock: OutputLock | undefined;
  try {
    if (isFolder) lock = lockOutputFolder(target.root, displayPath(target.root));
    const warn = (text: string) => process.stderr.write(`aciimg: warning: ${text}\n`);
    const making = await openMaking(plan, options, target, run.config, warn, run.cwd);
    const batch = await planBatch(inputs, target, plan, options, run.cwd, making.making);
    if (options.dryRun) return reportDryRun(batch, making.pruning(), run.mode === "json", process.stdout);
    let isComplete = false;
    try {
      const code = await runBatch(run.config, options, plan, target, batch, run.mode, run.pool, making);
      isComplete = true;
      return code;
    } finally {
      await making.finish(isComplete);
    }
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
  making: MakingRun,
): Promise<number> {
  const { early, pending, linksNotFollowed } = batch;
  const { onWritten } = making;
  const { screenSvg } = options;

  const report = createBatchReport(
    await createReporter({ mode, stdout: process.stdout, stderr: process.stderr }),
    early,
    pending,
    batch.inputs,
  );
  if (linksNotFollowed > 0)
    report.reporter.note(
      `aciimg: passed by ${linksNotFollowed} symbolic link(s) met while searching (--follow-symlinks follows them)`,
    );
  const isQualityIgnored = plan.quality !== undefined && pending.some((job) => ignoresQuality(job.type));
  if (isQualityIgnored) report.reporter.note(qualityIgnoredWarning);
  if (pending.length === 0) {
    const only = early[0];
    if (early.length === 1 && only?.status === "failed" && mode !== "json")
      throw new AciimgError(only.code as ErrorCode, only.error ?? "no input");
    return report.finish(null).failed > 0 ? 1 : 0;
  }

  const inPlace = pending.filter((job) => job.direct).map((job) => job.output);
  const folders = new Set(pending.filter((job) => !job.direct).map((job) => dirname(job.output)));
  const created = await prepareFolders(folders, inPlace);
  const stop = stopSignal();
  const disk = diskStop(report);
  const signal = AbortSignal.any([stop.signal, disk.signal]);
  const requested = backendSpecOf(config);
  const fits: Fits = (size, name, record) => oversizeMessage(size, record, requested, name);
  try {
    // What the shared cache holds is written from it; a backend is started only for the rest.
    let toMake = pending;
    if (making.cache) {
      report.begin();
      toMake = await writeFromCache(making.cache, pending, disk.record, making.made, signal);
    }
    if (toMake.length === 0) {
      // Nothing left for a backend.
    } else if (pool) {
      const { runPoolBatch } = await import("./pool.js");
      const { concurrency } = options;
      const poolReport = { ...report, record: disk.record };
      await runPoolBatch({ config, plan, signal, fits, concurrency, report: poolReport, onWritten }, toMake);
    } else
      await runOnOneBackend(config, report, { plan, signal, fits, screenSvg, stop: stop.signal, onWritten }, toMake, {
        concurrency: options.concurrency,
        record: disk.record,
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
  if (errno !== undefined) throw diskFullError(errno, report.finish(errno), target);
  if (stop.signal.aborted) {
    const summary = report.finish(stop.received());
    throw new AciimgError(
      "E_ABORTED",
      `stopped by ${stopWords(stop.received())}: ${summary.ok} of ${summary.total} images processed, ` +
        `${summary.cancelled} cancelled; outputs written are complete, nothing partial was left`,
    );
  }
  return report.finish(null).failed > 0 ? 1 : 0;
}

/**
 * The batch on one backend: ensured (started if need be), marked as work for the whole batch so
 * reap keeps it between images, and sent the files with bounded concurrency.
 */
async function runOnOneBackend(
  config: Config,
  report: BatchReport,
  sending: Pick<BatchContext, "plan" | "signal" | "fits" | "screenSvg" | "onWritten"> & { stop: AbortSignal },
  pending: readonly Job[],
  options: { concurrency: number | undefined; record: BatchReport["record"] },
): Promise<void> {
  const { plan, signal, fits, screenSvg, stop, onWritten } = sending;
  await withEngine(config, async (engine) => {
    const { reporter } = report;
    reporter.phase(`connecting to the ${config.provider} backend…`);
    const ready = await engine.ensure({
      signal: stop,
      onPhase: (phase) => reporter.phase(`starting a ${config.provider} backend… ${phase}`),
    });
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
      const { requestTimeoutMs } = config;
      const context = { plan, signal, fits, screenSvg, route, requestTimeoutMs, onWritten };
      await runJobs(context, pending, concurrency, options.record);
    } finally {
      await work.end();
    }
  });
}

/** E_DISK: what was written, what was not, and how to do the rest once there is room. */
function diskFullError(errno: DiskErrno, summary: Summary, target: OutputTarget): AciimgError {
  const where = target.kind === "folder" ? target.root : target.path;
  const advice = diskAdvice(errno).replace(/^./, (c) => c.toUpperCase());
  const again = target.kind === "folder" ? "run the same command with --skip-existing to do the rest" : "run it again";
  return new AciimgError(
    "E_DISK",
    `${diskTitle(errno)} writing to ${displayPath(where)}: ${summary.ok} written, ` +
      `${summary.notAttempted} not attempted, ${summary.failed} failed; ` +
      `outputs written are complete, nothing partial was left. ${advice}, then ${again}`,
    { detail: { errno } },
  );
}

/**
 * The plan with the damage level the built-in backend decodes at (fail-on.ts), sent whatever the
 * level so the answer does not depend on the backend's default (imaginary ignores it). One request
 * per rendition, as the plan makes: every input's key is made of it (input-facts.ts renditionKey).
 */
function withFailOn(plan: ImagePlan, level: FailOn): ImagePlan {
  const sent = new WeakMap<object, ReturnType<ImagePlan["requestFor"]>>();
  const requestFor: ImagePlan["requestFor"] = (type, size, enlarge) => {
    const { op, query } = plan.requestFor(type, size, enlarge);
    const request = sent.get(query) ?? { op, query: new URLSearchParams([...query, [failOnParam, level]]) };
    sent.set(query, request);
    return request;
  };
  return { ...plan, requestFor };
}
