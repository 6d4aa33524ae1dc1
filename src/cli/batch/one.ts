/**
 * One file of `aciimg process`: its request (the bytes, or the path for a backend that reads files
 * itself), the call, the answer checked, the output written atomically. Where the call goes is
 * the caller's `route`: the one backend, or a pool's member, retried on another when it vanishes
 * (pool.ts). Whatever route, an image is written once, and only after a whole answer.
 */
import { createHash } from "node:crypto";
import { AciimgError, isAciimgError } from "../../errors.js";
import { sharesMountNamespace } from "../../host-process.js";
import { fileChangedStatus } from "../../protocol/file-identity.js";
import { framesWarning } from "../../protocol/frames.js";
import { messages } from "../../protocol/replies.js";
import type { BackendRecord, ImageRequest, ImageResponse } from "../../engine/types.js";
import { checkedBody, checkedFile, fileVersion, openInput, type InputFile } from "./input-file.js";
import { writeAtomically, type InPlace } from "./outputs.js";
import type { CliOutputType } from "../flags.js";
import type { ImagePlan } from "./plan.js";
import { refusalOf } from "./refusals.js";
import type { FileResult } from "./report.js";
import { readResponseText } from "./io.js";

export interface Job {
  /** The input as shown to people. */
  input: string;
  /**
   * The input with every link resolved when the batch was planned: what an upload reads and a
   * backend reading files is sent, opened without following a link (one there is new).
   */
  realPath: string;
  /** `<dev>:<ino>` of the file checked when the batch was planned: no other is sent. */
  identity: string;
  /** The output as shown to people. */
  shownOutput: string;
  output: string;
  /** The format asked of the backend, which the output's name says (output-types.ts); undefined: the input's. */
  type: CliOutputType | undefined;
  /** A device or pipe to write in place (outputs.ts), else undefined: a temporary file and a rename. */
  direct: InPlace | undefined;
  /** The input's path relative to its search root (inputs.ts relativeOutput): its name in the record. */
  relativeInput: string;
  /** The listed size of this output (plan.ts Rendition), when a size flag is a list. */
  size?: number;
  /** With --upscale, the size it is enlarged to (plan.ts Rendition). */
  enlarge?: { width: number; height: number };
  /** What the output is made for, by the main backend kind and by the built-in one (input-facts.ts). */
  keys?: { main: string; local: string | undefined };
}

/** Where a call goes: a backend, and how to send to it. */
export interface Target {
  record: BackendRecord;
  send(request: ImageRequest): Promise<ImageResponse>;
  /** The pool member's label ("aci-2", "local"); absent for the one backend of a batch. */
  label?: string;
}

/** Runs `attempt` on a target; may run it again on another (a pool member that vanished). */
export type Route = <T>(attempt: (target: Target) => Promise<T>) => Promise<{ value: T; label?: string }>;

/** What every file of a batch is sent with. */
export interface BatchContext {
  plan: ImagePlan;
  signal: AbortSignal;
  /** Why a file of this size cannot go to `record`'s backend (oversizeMessage), or undefined. */
  fits: (sizeBytes: number, name: string, record: BackendRecord) => string | undefined;
  /** Screen SVG inputs before they are sent (config.ts screensSvg). */
  screenSvg: boolean;
  route: Route;
  /** The request timeout, named when an answer stalls while it is written. */
  requestTimeoutMs?: number;
  /** Told of each output written, before its result is reported (the record, the shared cache). */
  onWritten?: (job: Job, written: Written, label: string | undefined) => Promise<void>;
}

export interface Written {
  bytes: number;
  /** sha256 of the bytes written, hex. */
  hash: string;
  width?: number;
  height?: number;
  /** What the person should know of a written output: an animation flattened to its first frame. */
  warning?: string;
}

/** Processes one file; every outcome is a result (a stopped batch's is `cancelled`). */
export async function processOne(context: BatchContext, job: Job): Promise<FileResult> {
  const started = performance.now();
  try {
    const { value, label } = await context.route((target) => sendAndWrite(context, job, target));
    await context.onWritten?.(job, value, label);
    return {
      input: job.input,
      output: job.shownOutput,
      status: "ok",
      ...value,
      ms: Math.round(performance.now() - started),
      ...(label ? { backend: label } : {}),
    };
  } catch (error) {
    const ms = Math.round(performance.now() - started);
    if (context.signal.aborted) return { input: job.input, output: job.shownOutput, status: "cancelled", ms };
    const known = isAciimgError(error);
    return {
      input: job.input,
      output: job.shownOutput,
      status: "failed",
      ms,
      code: known ? error.code : "E_INTERNAL",
      error: (error as Error).message,
    };
  }
}

async function sendAndWrite(context: BatchContext, job: Job, target: Target): Promise<Written> {
  const { plan, signal } = context;
  let response: ImageResponse | undefined;
  let input: InputFile | undefined;
  // Its first bytes, for framesWarning. A backend that reads the file itself is the built-in one,
  // which says what became of the frames: none are needed.
  let head: () => Uint8Array = () => new Uint8Array(0);
  try {
    if (readsOurFiles(target.record)) response = await callReading(context, job, target);
    if (response === undefined) {
      input = await openInput(job.realPath, job.input, job.identity, context.screenSvg);
      head = input.head;
      const tooBig = context.fits(input.size, job.input, target.record);
      if (tooBig) throw new AciimgError("E_BAD_INPUT", tooBig);
      const { op, query } = plan.requestFor(job.type, job.size, job.enlarge);
      response = await target.send({ op, query, body: input.body, length: input.size, signal });
    }
    if (response.status >= 400) {
      const text = await readResponseText(response.body);
      throw new AciimgError("E_IMAGE", `the backend refused ${job.input} (${response.status}): ${text}`);
    }
    const digest = createHash("sha256");
    const bytes = await writeAtomically(job.output, response.body, job.direct, context.requestTimeoutMs, digest);
    const width = Number(response.headers["image-width"]);
    const height = Number(response.headers["image-height"]);
    const warning = framesWarning(response.headers, head);
    const hash = digest.digest("hex");
    return { bytes, hash, ...(width > 0 && height > 0 ? { width, height } : {}), ...(warning ? { warning } : {}) };
  } catch (error) {
    response?.body.destroy();
    throw refusalOf(error, job.input, target.record);
  } finally {
    // The call is over and its answer read (or dropped): nothing sends the input's bytes any more.
    input?.release();
  }
}

/**
 * Whether the backend reads the files itself and finds them where this process does: a local
 * backend in this mount namespace. One started outside `unshare -m` or a systemd PrivateTmp would
 * read another file at the same path, and its answer would be written as this input's output.
 */
function readsOurFiles(record: BackendRecord): boolean {
  let reads = readsOurFilesOf.get(record);
  if (reads === undefined) {
    reads = record.fileRoot !== undefined && record.pid !== undefined && sharesMountNamespace(record.pid);
    readsOurFilesOf.set(record, reads);
  }
  return reads;
}

/**
 * readsOurFiles per backend record, asked once per batch: two readlinks
 * of /proc cost ~35 µs, per image they were 1% of the CLI's CPU.
 */
const readsOurFilesOf = new WeakMap<BackendRecord, boolean>();

/**
 * The call for a backend that reads the file itself: checked again as openInput checks an upload
 * (empty, truncated, still the file planned), then sent by path with its identity; undefined when
 * the bytes must be sent instead (openInput then checks the file once more, and refuses one
 * replaced). The path is the real one, resolved in this process: a name such as /dev/stdin or
 * /proc/self/fd/3 means another file in the backend's process. `body` is for a backend without
 * the file source, should a retry land on one (a backend another aciimg version started).
 */
async function callReading(context: BatchContext, job: Job, target: Target): Promise<ImageResponse | undefined> {
  const { plan, signal, fits, screenSvg } = context;
  const checked = checkedFile(job.realPath, job.input, job.identity, screenSvg);
  if (checked instanceof AciimgError) throw checked;
  const tooBig = fits(checked.size, job.input, target.record);
  if (tooBig) throw new AciimgError("E_BAD_INPUT", tooBig);
  // The backend has read the file by the time it answers or refuses it. Written to since the
  // check (a copy still arriving, an export rewriting it), what it read was never checked.
  const changed = (): boolean => fileVersion(job.realPath) !== checked.version;
  let response: ImageResponse;
  try {
    const body = () => checkedBody(job.realPath, job.input, checked);
    const { op, query } = plan.requestFor(job.type, job.size, job.enlarge);
    const file = job.realPath;
    response = await target.send({ op, query, file, fileIdentity: job.identity, body, length: checked.size, signal });
  } catch (error) {
    if (!isAciimgError(error) || error.code !== "E_IMAGE") throw error;
    // Also when the backend cannot open what this process has just checked (its groups, or an
    // ACL, are not this process's), and when it found another file than the one checked.
    const status = error.detail?.status;
    const isUnreadable = status === 400 && error.detail?.message === messages.invalidFilePath;
    if (isUnreadable || status === fileChangedStatus || changed()) return undefined;
    throw error;
  }
  if (changed()) {
    response.body.destroy();
    return undefined;
  }
  return response;
}

/**
 * Runs `jobs` with at most `concurrency` in flight. When the signal aborts, no new file starts and
 * calls in flight are aborted (their temporary files removed by writeAtomically); a file that
 * finished anyway is reported as done.
 */
export async function runJobs(
  context: BatchContext,
  jobs: readonly Job[],
  concurrency: number,
  record: (r: FileResult) => void,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < jobs.length && !context.signal.aborted; index = next++) {
      const result = await processOne(context, jobs[index] as Job);
      if (result.status !== "cancelled") record(result);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
}
