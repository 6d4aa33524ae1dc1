/**
 * The shared rendition cache in a batch (`--cache`, docs/configuration.md "The rendition cache"):
 * before a backend is started, each output to make is looked up by its key (input content,
 * request, backend kind: input-facts.ts) and, when found, written from the cache; only the misses
 * go to a backend, and none is started when there are none. Each output a backend makes is stored.
 */
import { closeSync, fstatSync, openSync } from "node:fs";
import { Readable } from "node:stream";
import type { Config } from "../../config.js";
import { parseBytes } from "../../units.js";
import { readFullySync } from "../../read-fully.js";
import { openRenditionCache, type RenditionCache } from "./cache/index.js";
import { inputFlags } from "./input-file.js";
import type { Job, Written } from "./one.js";
import { writeAtomically } from "./outputs.js";
import type { FileResult } from "./report.js";

/** Opens the cache `--cache` (or ACIIMG_CACHE) names; undefined when none is asked for. */
export async function openBatchCache(
  options: { cache?: string; cacheMax?: number },
  config: Config,
  warn: (text: string) => void,
  cwd: string,
): Promise<RenditionCache | undefined> {
  const spec = options.cache ?? (config.env.ACIIMG_CACHE || undefined);
  if (spec === undefined) return undefined;
  const fromEnv = config.env.ACIIMG_CACHE_MAX;
  const maxBytes = options.cacheMax ?? (fromEnv ? parseBytes(fromEnv, "ACIIMG_CACHE_MAX") : undefined);
  const { connectionString } = config.blob;
  return openRenditionCache(
    spec,
    { warn, ...(maxBytes === undefined ? {} : { maxBytes }), ...(connectionString ? { connectionString } : {}) },
    cwd,
  );
}

/** What a written or fetched output is, for the record. */
export type Made = (job: Job, written: Written & { format?: string }, label: string | undefined) => Promise<void>;

/**
 * Writes every job the cache holds, reporting each as done (`cached`); resolves with the others,
 * for a backend. At most `concurrency` lookups at once; none after `signal` aborts.
 */
export async function writeFromCache(
  cache: RenditionCache,
  jobs: readonly Job[],
  record: (result: FileResult) => void,
  made: Made,
  signal: AbortSignal,
  concurrency = 8,
): Promise<Job[]> {
  const misses: Job[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < jobs.length && !signal.aborted; index = next++) {
      const job = jobs[index] as Job;
      const started = performance.now();
      const keys = job.keys;
      const found =
        keys && ((await cache.get(keys.main, signal)) ?? (keys.local && (await cache.get(keys.local, signal))));
      if (!found || job.direct) {
        misses.push(job);
        continue;
      }
      const { meta, body } = found;
      try {
        await writeAtomically(job.output, Readable.from([body]));
      } catch (error) {
        const { code = "E_OUTPUT", message } = error as { code?: string; message: string };
        record({ input: job.input, output: job.shownOutput, status: "failed", ms: 0, code, error: message });
        continue;
      }
      const written = {
        bytes: meta.bytes,
        hash: meta.hash,
        width: meta.width,
        height: meta.height,
        format: meta.format,
      };
      await made(job, written, undefined);
      const ms = Math.round(performance.now() - started);
      const { format: _, ...shown } = written;
      record({ input: job.input, output: job.shownOutput, status: "ok", ...shown, cached: true, ms });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
  // Kept in the batch's order: the backend's share is sent as planned.
  const order = new Map(jobs.map((job, i) => [job, i]));
  return misses.sort((a, b) => (order.get(a) as number) - (order.get(b) as number));
}

/** Stores an output a backend made under the key it was made for; best effort (the cache warns). */
export async function storeInCache(
  cache: RenditionCache,
  job: Job,
  written: Written & { format: string; width: number; height: number },
  key: string,
): Promise<void> {
  const body = readOutput(job.output, written.bytes);
  if (body === undefined) return;
  const { format, width, height, bytes, hash } = written;
  await cache.put(key, { meta: { format, width, height, bytes, hash }, body });
}

/** The output just written, when it is still `bytes` long (else it changed: not stored). */
function readOutput(path: string, bytes: number): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, inputFlags);
    if (!fstatSync(fd).isFile() || fstatSync(fd).size !== bytes) return undefined;
    return readFullySync(fd, Buffer.alloc(bytes), 0);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
