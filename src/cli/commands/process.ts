/**
 * `aciimg process`: validates the operations, expands the inputs and plans every output before any
 * backend is woken; then ensures one backend, marks the batch as work (so reap keeps it), and runs
 * the files through `engine.call` with bounded concurrency. A batch carries on past failures and
 * exits 1 if any file failed (DESIGN.md §7).
 */
import { access, constants, mkdir, stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Command } from "commander";
import { AciimgError, isAciimgError, usageError } from "../../errors.js";
import type { Engine, ImageResponse } from "../../engine/types.js";
import { canShowProgress, configOf, withEngine, type GlobalOptions } from "../context.js";
import { openInput, type InputFile } from "../input-file.js";
import { expandInputs, type InputFailure } from "../inputs.js";
import { outputName, writeAtomically } from "../outputs.js";
import { planRequest, type ImagePlan, type StepCollector } from "../plan.js";
import { createReporter, type FileResult, type Summary } from "../report.js";
import { backendCpus, readResponseText, runStdin } from "./process-io.js";
import type { ProcessOptions } from "./process-options.js";

interface Job {
  input: string;
  path: string;
  output: string;
}

/** Runs the command; resolves with the exit code. */
export async function runProcess(inputs: string[], options: ProcessOptions, steps: StepCollector, command: Command): Promise<number> {
  const globals = command.optsWithGlobals<GlobalOptions & ProcessOptions>();
  const config = configOf(globals);
  const plan = planRequest(steps);

  if (inputs.includes("-")) {
    if (inputs.length > 1) throw usageError("<inputs>", "either - (stdin) alone or files, directories and globs", inputs.join(" "));
    return withEngine(config, (engine) => runStdin(engine, plan, options.output, config.maxUploadBytes));
  }
  if (options.output === undefined) throw usageError("-o/--output", "a file or directory to write to (only - for stdin writes to stdout)", "");

  const expansion = await expandInputs(inputs, process.cwd());
  const asDirectory = await isDirectoryTarget(options.output, inputs, expansion.items.length);
  const outputRoot = resolve(options.output);
  const failures: FileResult[] = expansion.failures.map(failedInput);
  const jobs: Job[] = [];
  const taken = new Map<string, string>();
  // Inputs are never modified: not by their own output, nor by another input's (a.jpg → a.png).
  // A search must not pick up the outputs of an earlier run (`process photos -o photos/small`).
  const items = expansion.items.filter((item) => !(asDirectory && item.found && item.path.startsWith(outputRoot + sep)));
  const inputPaths = new Set(items.map((item) => item.path));
  for (const item of items) {
    const input = displayPath(item.path);
    const output = asDirectory ? join(outputRoot, outputName(item.relativeOutput, plan.outputType)) : outputRoot;
    const clash =
      output === item.path ? "the output would overwrite the input"
      : inputPaths.has(output) ? `${displayPath(output)} is also an input`
      : taken.has(output) ? `${taken.get(output)} already writes there`
      : undefined;
    if (clash) {
      failures.push({ input, output: displayPath(output), status: "failed", ms: 0, code: "E_OUTPUT", error: `refusing to write ${displayPath(output)}: ${clash}` });
      continue;
    }
    taken.set(output, input);
    jobs.push({ input, path: item.path, output });
  }

  const mode = globals.json ? "json" : canShowProgress() ? "tty" : "plain";
  const reporter = await createReporter({ mode, stdout: process.stdout, stderr: process.stderr });
  const startedAt = performance.now();
  const results: FileResult[] = [];
  const record = (result: FileResult): void => {
    results.push(result);
    reporter.file(result);
  };

  // Nothing to run (every input failed): report and stop without waking a backend.
  if (jobs.length === 0) {
    if (failures.length === 1 && !globals.json) throw new AciimgError(failures[0]?.code === "E_OUTPUT" ? "E_OUTPUT" : "E_BAD_INPUT", failures[0]?.error ?? "no input");
    reporter.start(failures.length);
    for (const failure of failures) record(failure);
    reporter.finish(summarize(results, startedAt));
    return 1;
  }

  const directories = new Set(jobs.map((job) => dirname(job.output)));
  for (const directory of directories) await prepareDirectory(directory);

  const pending: Job[] = [];
  const skipped: FileResult[] = [];
  for (const job of jobs) {
    if (options.skipExisting && (await stat(job.output).then((s) => s.isFile() && s.size > 0, () => false))) {
      skipped.push({ input: job.input, output: displayPath(job.output), status: "skipped", ms: 0 });
    } else pending.push(job);
  }

  const total = failures.length + skipped.length + pending.length;
  if (pending.length === 0) {
    reporter.start(total);
    for (const result of [...failures, ...skipped]) record(result);
  } else {
    try {
      await withEngine(config, async (engine) => {
        reporter.phase(`starting a ${config.provider} backend…`);
        const ready = await engine.ensure();
        // Two images per backend CPU: one uploading or downloading while the other is processed,
        // so the backend never waits on the network between images.
        const concurrency = options.concurrency ?? 2 * ((await backendCpus(ready.record)) ?? availableParallelism());
        reporter.start(total);
        for (const result of [...failures, ...skipped]) record(result);
        await runBatch(engine, plan, pending, concurrency, record);
      });
    } catch (error) {
      // What finished is reported (a stopped batch says what got done), then the error is the exit.
      if (results.length > 0) reporter.finish(summarize(results, startedAt));
      else reporter.stop();
      throw error;
    }
  }
  const summary = summarize(results, startedAt);
  reporter.finish(summary);
  return summary.failed > 0 ? 1 : 0;
}

/** A path as people read it: relative to the working directory when inside it, else absolute. */
function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === "" || rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

function failedInput(failure: InputFailure): FileResult {
  return { input: failure.input, output: null, status: "failed", ms: 0, code: failure.error.code, error: failure.error.message };
}

/**
 * Output is a directory when it says so (trailing slash, existing directory, no file extension)
 * or the inputs need one (several, a directory, a glob); else it is the output file.
 */
async function isDirectoryTarget(output: string, inputs: string[], itemCount: number): Promise<boolean> {
  if (output.endsWith("/") || output.endsWith(sep) || extname(output) === "") return true;
  if (await stat(output).then((s) => s.isDirectory(), () => false)) return true;
  if (inputs.length > 1 || itemCount > 1) return true;
  const only = inputs[0] ?? "";
  return await stat(only).then((s) => s.isDirectory(), () => true);
}

/** Creates the output directory and checks it is writable, before the backend is started. */
async function prepareDirectory(directory: string): Promise<void> {
  try {
    await mkdir(directory, { recursive: true });
    await access(directory, constants.W_OK);
  } catch (error) {
    throw new AciimgError("E_OUTPUT", `cannot write to output directory ${directory}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Runs `jobs` with at most `concurrency` in flight; lastUsed is kept fresh by beginWork. SIGINT or
 * SIGTERM stops the batch: no new file starts, calls in flight are aborted (their temporary files
 * removed by writeAtomically), and the command fails with E_ABORTED.
 */
async function runBatch(engine: Engine, plan: ImagePlan, jobs: Job[], concurrency: number, record: (r: FileResult) => void): Promise<void> {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const work = engine.beginWork();
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < jobs.length && !controller.signal.aborted; index = next++) {
      const result = await processOne(engine, plan, jobs[index] as Job, controller.signal);
      if (!controller.signal.aborted) record(result);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await work.end();
  }
  if (controller.signal.aborted) {
    throw new AciimgError("E_ABORTED", `stopped: ${next >= jobs.length ? jobs.length : next} of ${jobs.length} files started; outputs written so far are complete, nothing partial was left`);
  }
}

async function processOne(engine: Engine, plan: ImagePlan, job: Job, signal: AbortSignal): Promise<FileResult> {
  const started = performance.now();
  const output = displayPath(job.output);
  let response: ImageResponse | undefined;
  let input: InputFile | undefined;
  try {
    input = await openInput(job.path, job.input);
    response = await engine.call({ op: plan.op, query: plan.query, body: input.body, length: input.size, signal });
    if (response.status >= 400) {
      const text = await readResponseText(response.body);
      throw new AciimgError("E_IMAGE", `the backend refused ${job.input} (${response.status}): ${text}`);
    }
    const bytes = await writeAtomically(job.output, response.body);
    const width = Number(response.headers["image-width"]);
    const height = Number(response.headers["image-height"]);
    return {
      input: job.input,
      output,
      status: "ok",
      bytes,
      ...(width > 0 && height > 0 ? { width, height } : {}),
      ms: Math.round(performance.now() - started),
    };
  } catch (error) {
    response?.body.destroy();
    const known = isAciimgError(error);
    return {
      input: job.input,
      output,
      status: "failed",
      ms: Math.round(performance.now() - started),
      code: known ? error.code : "E_INTERNAL",
      error: (error as Error).message,
    };
  } finally {
    // The call is over and its answer read (or dropped): nothing sends the input's bytes any more.
    input?.release();
  }
}

function summarize(results: FileResult[], startedAt: number): Summary {
  const ms = Math.round(performance.now() - startedAt);
  const ok = results.filter((r) => r.status === "ok").length;
  const failed = results.filter((r) => r.status === "failed");
  return {
    total: results.length,
    ok,
    failed: failed.length,
    skipped: results.filter((r) => r.status === "skipped").length,
    ms,
    imagesPerSecond: ms > 0 ? Math.round((ok * 1000 * 10) / ms) / 10 : 0,
    failures: failed.map((r) => ({ input: r.input, code: r.code ?? "E_INTERNAL", error: r.error ?? "" })),
  };
}

