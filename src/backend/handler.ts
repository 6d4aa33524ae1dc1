/**
 * One image request, in imaginary's check order (docs/reference/imaginary-api.md §1.3, controllers.go
 * imageHandler): read the body (or, on a GET with a mount, the file: mount.ts) → empty 400 →
 * sniff 406 → params 400 → type 400 → size → 422 → operation (400 on any failure). An intake
 * slot is taken before the body is read and a work slot before libvips runs, so bodies and images
 * in memory are both bounded; a client that goes away releases its place in either queue.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import sharp, { type Metadata } from "sharp";
import {
  negotiateType,
  parseImageOptions,
  validateRequest,
  type ImageOptions,
  type OperationName,
  type PipelineStep,
} from "../protocol/operations.js";
import { mediaTypeOf } from "../protocol/output-types.js";
import { damagedMessage, failOnOf, type FailOn } from "../protocol/fail-on.js";
import { fileIdentityHeader } from "../protocol/file-identity.js";
import { flattenedHeader, framesHeader } from "../protocol/frames.js";
import { messages } from "../protocol/replies.js";
import { readImageBody, type BodyResult } from "./body.js";
import { startDeadline, type Deadline } from "./deadline.js";
import { readHeader } from "./header.js";
import { runOperation, type ImageResult } from "./imaging.js";
import { fileParam, readMountedFile, type Mount, type MountedFile } from "./mount.js";
import { fail, ImagingError, vipsText } from "./imaging-error.js";
import { planOperation, planPipeline, type ImagingLimits, type InputInfo } from "./plan.js";
import type { BufferPool } from "./buffers.js";
import type { Slots } from "./slots.js";
import { sniffImageType, type InputType } from "./sniff.js";
import { renderSvg, type RawImage } from "./svg-render.js";

export interface ImageRequest {
  req: IncomingMessage;
  res: ServerResponse;
  op: OperationName;
  query: URLSearchParams;
  /** `intake` bounds bodies held in memory; `work` bounds images in libvips. */
  slots: { intake: Slots; work: Slots };
  /** The buffers mounted files are read into, one per intake slot at most (buffers.ts). */
  buffers: BufferPool;
  limits: { maxUploadBytes: number; maxResolutionMP: number; maxOutputPixels: number; maxRenderTimeMs: number };
  /** The environment of the SVG render processes (svg-render.ts); default: this process's. */
  renderEnv?: NodeJS.ProcessEnv;
  sendError: (res: ServerResponse, status: number, message: string, headers?: Record<string, string>) => void;
  /** The directory a GET's `file` is read from; the server refuses GETs on image routes without one. */
  mount?: Mount;
}

/**
 * Reads the header of `bytes` (no decode); a load failure is imaginary's bimg.Size 400, and the
 * data's damage when the request asked to be told (`failOn` other than none).
 */
async function inspect(
  bytes: Buffer,
  type: InputType,
  failOn: FailOn = "none",
): Promise<InputInfo & { meta: Metadata }> {
  try {
    const meta = await sharp(bytes, { failOn: "none", limitInputPixels: false }).metadata();
    const orientation = meta.orientation ?? 0;
    return { type, width: meta.width, height: meta.height, orientation, pages: meta.pages ?? 1, meta };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw failOn === "none" ? fail(message) : new ImagingError(400, damagedMessage(failOn, vipsText(message)));
  }
}

/**
 * Answers one request to an image route (everything but `/` and `/health`), in imaginary's check
 * order (docs/reference/imaginary-api.md §1.8).
 */
export async function handleImage(r: ImageRequest): Promise<void> {
  const { req, res, limits } = r;
  if (r.op === "watermarkimage") {
    const rejected = validateRequest(r.op, r.query, "built-in");
    if (!rejected.ok) return r.sendError(res, rejected.status, rejected.message);
  }
  const abort = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) abort.abort(new Error("client closed the connection"));
  });
  let release: () => void;
  let releaseWork = (): void => {};
  try {
    release = await r.slots.intake.acquire(abort.signal);
  } catch {
    res.destroy(); // the client left while queued
    return;
  }
  let errorHeaders: Record<string, string> = {};
  let pooled: Buffer | undefined;
  try {
    const body = await readSource(r, abort.signal);
    if (body.ok && "pooled" in body) pooled = body.bytes;
    if (abort.signal.aborted) return;
    if (!body.ok) {
      // Refused mid-stream: sendError answers, then drains the rest of the body, bounded (linger.ts).
      return r.sendError(res, body.status, body.message);
    }
    const bytes = body.bytes;
    if (bytes.length === 0) return r.sendError(res, 400, messages.emptyImage);
    const type = sniffImageType(bytes);
    if (type === undefined) return r.sendError(res, 406, messages.unsupportedMediaType);
    // The built-in backend's rules, imaginary's superset: AVIF output and aciimg's encoder params (encoder.ts).
    const parsed = parseImageOptions(r.query, "built-in");
    if (!parsed.ok) return r.sendError(res, parsed.status, parsed.message);
    const failOn = failOnOf(r.query);
    if (!failOn.ok) return r.sendError(res, failOn.status, failOn.message);
    const options = negotiated(parsed.value, req.headers.accept);
    if (parsed.value.type === "auto") errorHeaders = { Vary: "Accept" }; // set on errors too (§1.7)
    const { info, inspected } = await inputInfoOf(r.op, bytes, type, failOn.value);
    if ((info.width * info.height) / 1e6 > limits.maxResolutionMP)
      return r.sendError(res, 422, "Image resolution is too big", errorHeaders);
    releaseWork = await r.slots.work.acquire(abort.signal);
    // The bound runs from here: waiting for a slot is not work (deadline.ts).
    const deadline = startDeadline(limits.maxRenderTimeMs);

    if (r.op === "info" && inspected) return sendInfo(res, inspected.meta);
    let result: ImageResult;
    if (r.op === "pipeline") {
      const checked = validateRequest("pipeline", r.query, "built-in");
      if (!checked.ok) return r.sendError(res, checked.status, checked.message, errorHeaders);
      const steps = checked.value.pipeline ?? [];
      const input = await decoded(r, bytes, info, deadline, abort.signal, () => planPipeline(steps, info, limits));
      result = await runPipeline(steps, input, info, limits, deadline, abort.signal, failOn.value);
    } else if (r.op !== "watermarkimage" && r.op !== "info") {
      const op = r.op;
      const plan = (): unknown => planOperation(op, info, options, limits);
      const input = await decoded(r, bytes, info, deadline, abort.signal, plan);
      result = await runOperation(op, input, info, options, limits, deadline, failOn.value);
    } else {
      return r.sendError(res, 501, messages.notImplemented);
    }
    if (abort.signal.aborted) return;
    sendResult(res, result, errorHeaders);
  } catch (error) {
    if (abort.signal.aborted) return;
    if (error instanceof ImagingError) return r.sendError(res, error.status, error.message, errorHeaders);
    r.sendError(res, 400, fail(error instanceof Error ? error.message : String(error)).message, errorHeaders);
  } finally {
    // Every use of the input is over (the operation resolved or failed): its buffer may serve the next.
    if (pooled) r.buffers.give(pooled);
    releaseWork();
    release();
  }
}

/** `type=auto`: the type the Accept header prefers, or none (the input's own type). */
function negotiated(options: ImageOptions, accept: string | undefined): ImageOptions {
  if (options.type !== "auto") return options;
  const { type: _auto, ...rest } = options;
  const type = negotiateType(accept ?? "");
  return type ? { ...rest, type } : rest;
}

/** /info reports everything libvips knows; other ops only need the size and orientation, read from the header. */
async function inputInfoOf(op: ImageRequest["op"], bytes: Buffer, type: InputType, failOn: FailOn) {
  const header = op === "info" ? undefined : readHeader(bytes, type);
  const inspected = header ? undefined : await inspect(bytes, type, failOn);
  const info: InputInfo = inspected ?? {
    type,
    width: header?.width ?? 0,
    height: header?.height ?? 0,
    orientation: header?.orientation ?? 0,
  };
  return { info, inspected };
}

/** /info's answer, in imaginary's field names. */
function sendInfo(res: ServerResponse, m: Metadata): void {
  sendBody(
    res,
    Buffer.from(
      JSON.stringify({
        width: m.width,
        height: m.height,
        type: m.format === "heif" ? "avif" : m.format,
        space: m.space ?? "srgb",
        hasAlpha: m.hasAlpha ?? false,
        hasProfile: m.hasProfile ?? false,
        channels: m.channels ?? 0,
        orientation: m.orientation ?? 0,
      }),
    ),
    { "Content-Type": "application/json" },
  );
}

function sendResult(res: ServerResponse, result: ImageResult, errorHeaders: Record<string, string>): void {
  sendBody(res, result.data, {
    "Content-Type": mediaTypeOf[result.type],
    "Image-Width": String(result.width),
    "Image-Height": String(result.height),
    ...framesHeaders(result),
    ...errorHeaders,
  });
}

/**
 * Runs the steps in order, each on the previous step's encoded output, as imaginary does. A
 * failing step is an error even with `ignore_failure` (imaginary then answers an empty 200, §1.6).
 * A step over a limit is refused before the first one runs (plan.ts). Only the input is decoded
 * at `failOn`: later steps read our own output. A step that flattened an animation is reported.
 */
async function runPipeline(
  steps: PipelineStep[],
  input: Buffer | RawImage,
  info: InputInfo,
  limits: ImagingLimits,
  deadline: Deadline,
  signal: AbortSignal,
  failOn: FailOn,
): Promise<ImageResult> {
  planPipeline(steps, info, limits);
  let current: { bytes: Buffer | RawImage; info: InputInfo } = { bytes: input, info };
  let result: ImageResult | undefined;
  let flattened: ImageResult["animation"] | undefined;
  for (const step of steps) {
    if (signal.aborted) throw new ImagingError(499, "client closed the connection");
    const operation = step.operation === "watermarkImage" ? "watermark" : step.operation;
    const decodeAt = current.bytes === input ? failOn : "none";
    result = await runOperation(operation, current.bytes, current.info, step.params, limits, deadline, decodeAt);
    if (!result.animation.animated && result.animation.flattened) flattened ??= result.animation;
    // Re-read the header: the EXIF orientation survives a step run with `norotation`.
    current = { bytes: result.data, info: await inspect(result.data, result.type) };
  }
  if (result === undefined)
    throw new ImagingError(400, "Error while processing the image: Missing or invalid pipeline operations JSON");
  return flattened ? { ...result, animation: flattened } : result;
}

/** What became of an animated input's frames (frames.ts); nothing for an input of one frame. */
function framesHeaders(result: ImageResult): Record<string, string> {
  const { animation } = result;
  if (animation.animated) return { [framesHeader]: String(animation.pages) };
  if (animation.flattened) return { [flattenedHeader]: `${animation.flattened.pages}; ${animation.flattened.why}` };
  return {};
}

/**
 * What libvips works on: the bytes, or for an SVG its pixels, rendered in a process the deadline
 * can kill (svg-render.ts). The plan is checked first, so a refused request never renders.
 */
async function decoded(
  r: ImageRequest,
  bytes: Buffer,
  info: InputInfo,
  deadline: Deadline,
  signal: AbortSignal,
  plan: () => unknown,
): Promise<Buffer | RawImage> {
  if (info.type !== "svg") return bytes;
  plan();
  return renderSvg(bytes, deadline, signal, r.renderEnv);
}

/**
 * The image: a GET's `file` under the mount, else the body (imaginary's sources, §1.2; on a POST
 * `file=` is ignored). A GET without `file` is imaginary's 400, and `url=` is never fetched.
 */
async function readSource(
  r: ImageRequest,
  signal: AbortSignal,
): Promise<BodyResult | (MountedFile & { pooled: true })> {
  if (r.req.method !== "GET" || r.mount === undefined) return readImageBody(r.req, r.limits.maxUploadBytes, signal);
  const file = fileParam(r.query);
  if (file === undefined) return { ok: false, status: 400, message: messages.missingSource };
  const identity = r.req.headers[fileIdentityHeader];
  const checked = typeof identity === "string" ? identity : undefined;
  const read = readMountedFile(r.mount, file, r.limits.maxUploadBytes, (size) => r.buffers.take(size), checked);
  // Sent back so the client knows this backend compared the file (one from before the extension would not).
  if (read.ok && checked !== undefined) r.res.setHeader(fileIdentityHeader, checked);
  return { ...read, pooled: true };
}

function sendBody(res: ServerResponse, data: Buffer, headers: Record<string, string>): void {
  res.writeHead(200, { ...headers, "Content-Length": data.length });
  res.end(data);
}
