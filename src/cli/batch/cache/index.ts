/**
 * The rendition cache, shared by ephemeral CI runners: renditions a batch
 * made, kept under a key the batch derives from an input and its operations, so that a runner that
 * starts empty takes them from a folder its CI restored, or from an Azure Blob container, instead
 * of making them again. One contract, two stores: a folder (dir.ts) and a blob container
 * (azblob.ts), each entry one file or blob in the format of entry.ts, verified on every read.
 * A cache is best effort: what goes wrong in it is a warning and a miss, never a failed batch.
 */
import type { TokenCredential } from "@azure/core-auth";
import { resolve } from "node:path";
import { AciimgError } from "../../../errors.js";
import { openDirCache } from "./dir.js";

/** What a rendition is: the facts the manifest records. */
export interface RenditionMeta {
  /** "webp", "jpeg", "png", "avif", "tiff", "gif". */
  format: string;
  width: number;
  height: number;
  /** The body's length. */
  bytes: number;
  /** The sha256 of the body, lowercase hex. */
  hash: string;
}

export interface CachedRendition {
  meta: RenditionMeta;
  body: Buffer;
}

export interface RenditionCache {
  /** Shown to people: "dir /path" or "azblob https://acct.blob…/container" (never a SAS or key). */
  readonly describe: string;
  /**
   * The rendition stored under `key` (64 lowercase hex characters), verified: the body has the
   * meta's length and sha256, the meta is well-formed, the body is within the entry bound.
   * Undefined when absent, damaged or unreadable; a damaged entry is a miss reported through `warn`.
   */
  get(key: string, signal?: AbortSignal): Promise<CachedRendition | undefined>;
  /** Stores a rendition, whole or not at all; best effort: a failure is a warning through `warn`, never a rejection. */
  put(key: string, rendition: CachedRendition, signal?: AbortSignal): Promise<void>;
  /** Ends the cache's use: the folder form trims itself to its size bound. Later calls miss and store nothing. */
  close(): Promise<void>;
}

export interface CacheOptions {
  /** Reports what went wrong in the cache (one line, no secrets); at most `maxWarnings` are passed on. */
  warn(text: string): void;
  /** Folder form: the most the cache's entries may take in all, in bytes. Default 1 GiB (`--cache-max`). */
  maxBytes?: number;
  /** The longest body an entry may hold, in bytes: longer ones are not stored, nor read. Default 64 MiB. */
  maxEntryBytes?: number;
  /** Warnings passed on to `warn` before the rest are dropped (one line says so). Default 20. */
  maxWarnings?: number;
  /**
   * Blob form: the storage connection string the blob state store uses (ACIIMG_STATE_BLOB_CONNECTION_STRING
   * or AzureWebJobsStorage), used when it is for the URL's account and the URL has no SAS.
   */
  connectionString?: string;
  /** Blob form: the credential for a URL without a SAS. Default: DefaultAzureCredential (tests inject one). */
  credential?: TokenCredential;
  /** Blob form: the bound of one request, retries included, in ms. Default 60 s. */
  requestTimeoutMs?: number;
  /** Blob form: the SDK's retry of failed requests. Default: 3 tries from 500 ms. */
  retry?: { maxTries: number; retryDelayInMs: number };
}

/** The options as the stores read them: bounds resolved, `warn` limited. */
export interface CacheSettings extends CacheOptions {
  maxBytes: number;
  maxEntryBytes: number;
}

export const defaultMaxBytes = 1024 ** 3;
export const defaultMaxEntryBytes = 64 * 1024 ** 2;

/**
 * Opens the cache `spec` names: `azblob:<container URL>` is a blob container, anything else a folder
 * (resolved against `cwd`). Fails with E_USAGE only for a spec or bound that is malformed; a store
 * that cannot be used (a folder another user owns, no credential) is reported through `warn` and
 * the cache is off: every get misses and nothing is stored.
 */
export async function openRenditionCache(spec: string, options: CacheOptions, cwd: string): Promise<RenditionCache> {
  const maxBytes = positive(options.maxBytes, defaultMaxBytes, "--cache-max");
  // No entry can be larger than the whole cache.
  const maxEntryBytes = Math.min(positive(options.maxEntryBytes, defaultMaxEntryBytes, "maxEntryBytes"), maxBytes);
  const settings = {
    ...options,
    maxBytes,
    maxEntryBytes,
    warn: limitWarnings(options.warn, options.maxWarnings ?? 20),
  };
  if (spec.startsWith("azblob:")) {
    // The Azure SDK is loaded only for this form, so a run with a folder cache (or none) stays fast.
    const { openBlobCache } = await import("./azblob.js");
    return openBlobCache(spec.slice("azblob:".length), settings);
  }
  if (spec.trim() === "") {
    throw new AciimgError("E_USAGE", '--cache: expected a folder or azblob:<container URL>, got ""');
  }
  return openDirCache(resolve(cwd, spec), settings);
}

function positive(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (Number.isSafeInteger(value) && value > 0) return value;
  throw new AciimgError("E_USAGE", `${what}: expected a positive number of bytes, got ${value}`);
}

/** `warn` passing on the first `limit` lines and one that says the rest are not shown: a cache never floods a log. */
function limitWarnings(warn: (text: string) => void, limit: number): (text: string) => void {
  let count = 0;
  return (text) => {
    count += 1;
    if (count <= limit) warn(text);
    else if (count === limit + 1) warn("cache: further cache warnings are not shown");
  };
}
