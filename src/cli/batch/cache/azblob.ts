/**
 * The blob cache (`--cache azblob:https://<account>.blob.core.windows.net/<container>[?<SAS>]`): one
 * block blob per entry, `renditions/<key>`, holding the entry as the folder form's file does
 * (entry.ts), so one Put Blob replaces an entry whole and a read verifies it. It authenticates as
 * the blob state store does, with its helper: a SAS in the URL, else the state's connection string
 * when it is for this account, else DefaultAzureCredential. The container is made on the first put
 * that finds it missing. Every request is bounded (a timeout, the SDK's bounded retries, the entry
 * bound on what is read), and a store that keeps failing, or refuses our credential, is turned off
 * for the rest of the run rather than slowing every image down. Whoever can write the container is
 * trusted to write renditions: give runners that only read it a read-only SAS.
 */
import type { BlockBlobClient, ContainerClient } from "@azure/storage-blob";
import { AciimgError } from "../../../errors.js";
import { openContainer, redactUrl, statusOf } from "../../../state/blob.js";
import { checkKey, decodeEntry, encodeHeader, entryMaxBytes, renditionProblem } from "./entry.js";
import type { CacheSettings, RenditionCache } from "./index.js";
import { cacheOff } from "./off.js";

/** Failures in a row (404s aside) after which the cache is off for the rest of the run. */
const maxFailuresInARow = 3;
const defaultRequestTimeoutMs = 60_000;

/** Opens the blob cache at `url` (what follows `azblob:`); fails with E_USAGE when it is no container URL. */
export async function openBlobCache(url: string, settings: CacheSettings): Promise<RenditionCache> {
  const { container, shown, sas } = parseContainerUrl(url);
  const describe = `azblob ${shown}`;
  /** What an SDK message might quote of a secret, removed: the SAS, a signature, an account key. */
  const scrub = (text: string) =>
    (sas ? text.split(sas).join("?<SAS>") : text)
      .replace(/\bsig=[^&\s"']+/gi, "sig=<redacted>")
      .replace(/AccountKey=[^;\s"']+/gi, "AccountKey=<redacted>");
  const warn = (text: string) => settings.warn(scrub(`cache ${describe}: ${text}`));
  let client: ContainerClient;
  try {
    client = await clientFor(url, container, settings);
  } catch (error) {
    warn(`${(error as Error).message}; the cache is off for this run`);
    return cacheOff(describe);
  }
  const timeoutMs = settings.requestTimeoutMs ?? defaultRequestTimeoutMs;
  const limit = entryMaxBytes(settings.maxEntryBytes);
  let failuresInARow = 0;
  let isOff = false;
  /** False once the store refused a write (a read-only SAS, a reader's role): reads go on. */
  let isStoring = true;
  const short = (key: string) => `renditions/${key.slice(0, 12)}…`;
  const blobOf = (key: string): BlockBlobClient => client.getBlockBlobClient(`renditions/${key}`);
  const bounded = (signal: AbortSignal | undefined) =>
    signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);

  const failed = (doing: string, error: unknown, isWrite: boolean) => {
    const { status, code } = statusOf(error);
    failuresInARow += 1;
    const isRefused = status === 401 || status === 403 || isCredentialError(error);
    const stop = (isRefused && !isWrite) || failuresInARow >= maxFailuresInARow;
    if (stop) isOff = true;
    const stopStoring = isRefused && isWrite && !stop;
    if (stopStoring) isStoring = false;
    const then = stop
      ? "; the cache is off for the rest of this run"
      : stopStoring
        ? "; nothing more is stored in this run"
        : "";
    const what =
      status !== undefined
        ? `HTTP ${status}${code ? ` ${code}` : ""}`
        : (error as Error).name === "AbortError"
          ? `no answer within ${timeoutMs} ms`
          : (error as Error).message;
    warn(`cannot ${doing}: ${what}${then}`);
  };

  return {
    describe,
    async get(key, signal) {
      checkKey(key);
      if (isOff || signal?.aborted) return undefined;
      let data: Buffer | string;
      try {
        const response = await blobOf(key).download(0, undefined, {
          abortSignal: bounded(signal),
          maxRetryRequests: 1,
        });
        data = await readBounded(response.readableStreamBody, response.contentLength, limit);
      } catch (error) {
        if (signal?.aborted) return undefined;
        // No blob, or no container yet: a miss, and the store answers.
        if (statusOf(error).status === 404) {
          failuresInARow = 0;
          return undefined;
        }
        failed(`read ${short(key)}`, error, false);
        return undefined;
      }
      failuresInARow = 0;
      const decoded =
        typeof data === "string" ? { ok: false as const, why: data } : decodeEntry(key, data, settings.maxEntryBytes);
      if (decoded.ok) return decoded.rendition;
      warn(`entry ${short(key)} ignored: ${decoded.why}; treated as a miss`);
      return undefined;
    },

    async put(key, rendition, signal) {
      checkKey(key);
      if (isOff || !isStoring || signal?.aborted) return;
      const problem = renditionProblem(rendition, settings.maxEntryBytes);
      if (problem) {
        warn(`rendition ${short(key)} not stored: ${problem}`);
        return;
      }
      const data = Buffer.concat([encodeHeader(key, rendition.meta), rendition.body]);
      const options = { blobHTTPHeaders: { blobContentType: "application/octet-stream" } };
      for (let hasMadeContainer = false; ; hasMadeContainer = true) {
        try {
          await blobOf(key).upload(data, data.length, { ...options, abortSignal: bounded(signal) });
          failuresInARow = 0;
          return;
        } catch (error) {
          if (signal?.aborted) return;
          const { status, code } = statusOf(error);
          if (status === 404 && code === "ContainerNotFound" && !hasMadeContainer) {
            const made = await client.createIfNotExists({ abortSignal: bounded(signal) }).catch((e: unknown) => e);
            if (!(made instanceof Error)) continue;
            failed(`create the container for ${short(key)}`, made, true);
            return;
          }
          failed(`store ${short(key)}`, error, true);
          return;
        }
      }
    },

    async close() {
      isOff = true;
    },
  };
}

/**
 * The container and the URL to show (no query: a SAS is a secret), or E_USAGE. The container is the
 * last part of the path: `/<container>`, or `/<account>/<container>` for a path-style endpoint (Azurite).
 */
export function parseContainerUrl(url: string): { container: string; shown: string; sas: string } {
  const expected = "azblob:https://<account>.blob.core.windows.net/<container>, optionally with a SAS after ?";
  const usage = (why: string) => new AciimgError("E_USAGE", `--cache: ${why}; expected ${expected}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usage(`"azblob:" is followed by no URL`);
  }
  const shown = redactUrl(url);
  const isLoopback = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(parsed.hostname);
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw usage(`${shown} is not an https:// URL`);
  // Over plain HTTP a SAS would cross the network readable; Azurite on loopback is the exception.
  if (parsed.protocol === "http:" && parsed.searchParams.has("sig") && !isLoopback)
    throw usage(`${shown} would send its SAS unencrypted (http://)`);
  if (parsed.username || parsed.password) throw usage(`the URL has a user name or password in it`);
  const parts = parsed.pathname.split("/").filter((part) => part !== "");
  const container = parts.at(-1) ?? "";
  if (parts.length > 2 || !/^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/.test(container))
    throw usage(`${shown} names no container (3-63 of a-z, 0-9 and single hyphens)`);
  return { container, shown: `${parsed.origin}/${parts.join("/")}`, sas: parsed.search };
}

/** The container client as the blob state store makes it; the connection string only when it is for this account. */
async function clientFor(url: string, container: string, settings: CacheSettings): Promise<ContainerClient> {
  const deps = { credential: settings.credential, retry: settings.retry ?? { maxTries: 3, retryDelayInMs: 500 } };
  if (!new URL(url).searchParams.has("sig") && settings.connectionString) {
    const viaString = await openContainer({ connectionString: settings.connectionString, container }, deps);
    if (sameUrl(viaString.url, url)) return viaString;
  }
  // The SDK sends a token over https only, and would refuse each request: say it once.
  if (new URL(url).protocol === "http:" && !new URL(url).searchParams.has("sig")) {
    throw new AciimgError(
      "E_CONFIG",
      "an http:// URL needs a SAS in it or the storage connection string of its account (a token goes over https only)",
    );
  }
  return openContainer({ containerUrl: url, container }, deps);
}

function sameUrl(a: string, b: string): boolean {
  const normal = (text: string) => {
    const parsed = new URL(text);
    return `${parsed.protocol}//${parsed.host.toLowerCase()}${parsed.pathname.replace(/\/+$/, "")}`;
  };
  return normal(a) === normal(b);
}

function isCredentialError(error: unknown): boolean {
  const name = (error as Error | undefined)?.name ?? "";
  return ["CredentialUnavailableError", "AuthenticationError", "AggregateAuthenticationError"].includes(name);
}

/** The whole body, or why not: more than `limit` bytes (said by its length, or found while reading). */
async function readBounded(
  stream: NodeJS.ReadableStream | undefined,
  contentLength: number | undefined,
  limit: number,
): Promise<Buffer | string> {
  const tooLarge = (bytes: number) => `it is ${bytes} bytes or more, more than an entry may be`;
  const destroy = () => (stream as { destroy?: () => void } | undefined)?.destroy?.();
  if (contentLength !== undefined && contentLength > limit) {
    destroy();
    return tooLarge(contentLength);
  }
  if (!stream) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    total += buffer.length;
    if (total > limit) {
      destroy();
      return tooLarge(total);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}
