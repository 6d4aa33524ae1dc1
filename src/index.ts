/**
 * aciimg as a library (`import … from "aciimg"`): the engine the CLI, `serve` and the Functions app
 * are built on. Importing it starts nothing, registers nothing and reads no environment; the Azure
 * SDK is loaded only when an Azure provider or store is made. The Functions app is
 * `aciimg/functions`. README "Use it from code". Only what a user opens, calls and catches is exported;
 * the parts they are made of (engine, pool, client, servers) stay internal, so they can change.
 */
import type { Readable } from "node:stream";
import type { AciProviderOptions } from "./providers/aci/aci.js";
import type { BlobStateConfig } from "./config.js";
import type { BlobStateDeps } from "./state/blob.js";
import type { Engine, Provider, StateStore } from "./engine/types.js";
import { AciimgError } from "./errors.js";
import { isOperationName, validateRequest } from "./protocol/operations.js";

export { AciimgError, errorCodes, isAciimgError } from "./errors.js";
export type { ErrorCode, AciimgErrorOptions } from "./errors.js";
export { loadConfig } from "./config.js";
export type { AzureConfig, BlobStateConfig, Config, ConfigOverrides, ServeConfig } from "./config.js";
export { openEngine, openPool, openProvider, openStore } from "./compose.js";
export type { OpenOptions } from "./compose.js";
export type { MemberView, Pool, PoolEvent, PoolMember, PoolOptions, PoolSlot } from "./engine/pool-types.js";
export type * from "./engine/types.js";
export { createLocalProvider } from "./providers/local/local.js";
export type { LocalProviderOptions } from "./providers/local/local.js";
export type { AciProviderOptions } from "./providers/aci/aci.js";
export { createFileStateStore } from "./state/file.js";
export type { FileStateStoreOptions } from "./state/file.js";
export type { BlobStateDeps } from "./state/blob.js";

/** The Azure Container Instances provider; loads the Azure SDK on first use. */
export async function createAciProvider(options: AciProviderOptions): Promise<Provider> {
  const aci = await import("./providers/aci/aci.js");
  return aci.createAciProvider(options);
}

/** The Azure Blob state store (ETag-serialized); loads the Azure Storage SDK on first use. */
export async function createBlobStateStore(options: BlobStateConfig, deps?: BlobStateDeps): Promise<StateStore> {
  const blob = await import("./state/blob.js");
  return blob.createBlobStateStore(options, deps);
}

/** One image through an engine, as `aciimg process` sends it: an imaginary operation and its parameters. */
export interface ProcessImageRequest {
  /** imaginary operation, e.g. "resize", "crop", "convert", "pipeline" (docs/reference/imaginary-api.md §1). */
  operation: string;
  /** Its query parameters, e.g. `{ width: 300, height: 200, type: "webp" }`. */
  params?: Record<string, string | number | boolean>;
  /** The image bytes. */
  image: Uint8Array;
  signal?: AbortSignal;
}

export interface ProcessedImage {
  bytes: Buffer;
  /** Response headers, lower-case (`content-type`, `image-width`, `image-height` …). */
  headers: Record<string, string>;
}

/**
 * Sends one image through `engine` (provisioning a backend on first use) and returns the result
 * whole. The request is checked against imaginary's rules first, so a bad one fails with
 * `E_USAGE` before any backend is woken; `E_IMAGE` when the backend refuses the image.
 */
export async function processImage(engine: Engine, request: ProcessImageRequest): Promise<ProcessedImage> {
  const query = new URLSearchParams(
    Object.entries(request.params ?? {}).map(([key, value]): [string, string] => [key, String(value)]),
  );
  if (!isOperationName(request.operation))
    throw new AciimgError("E_USAGE", `processImage: unknown imaginary operation ${JSON.stringify(request.operation)}`);
  const checked = validateRequest(request.operation, query);
  if (!checked.ok)
    throw new AciimgError("E_USAGE", `processImage: the backend would refuse this request: ${checked.message}`);
  const response = await engine.call({ op: request.operation, query, body: request.image, signal: request.signal });
  return { bytes: await collect(response.body), headers: response.headers };
}

async function collect(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
