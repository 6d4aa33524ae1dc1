/**
 * How the client puts a request on the wire and takes an answer off it: the query (with the file
 * source's `file`), response headers as one map, and reading, probing or dropping a body.
 */
import { isAbsolute, relative, sep } from "node:path";
import type { Readable } from "node:stream";

/**
 * The query, and `file` escaped twice: the backend unescapes it a second time after the query's
 * own decoding, as imaginary does (mount.ts fileParam), so `a b%c+d.jpg` arrives as named.
 */
export function queryString(query: URLSearchParams, file?: string): string {
  const text = query.toString();
  const fileParam = file === undefined ? "" : `file=${encodeURIComponent(encodeURIComponent(file))}`;
  const joined = text && fileParam ? `${text}&${fileParam}` : text || fileParam;
  return joined ? `?${joined}` : "";
}

/**
 * `file` relative to `root` when both are given and `file` is
 * absolute and under `root`, else undefined (the bytes are sent).
 */
export function fileUnder(root: string | undefined, file: string | undefined): string | undefined {
  if (root === undefined || file === undefined || !isAbsolute(file)) return undefined;
  const rel = relative(root, file);
  return rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel) ? undefined : rel;
}

export function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

/** Reads a small body as text, destroying it when it is larger than `limit`. */
export async function readBounded(body: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += buffer.length;
    if (size > limit) {
      discard(body);
      break;
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Drops a response body; undici reports a plain destroy() as an AbortError event, which is expected here. */
export function discard(body: Readable): void {
  body.on("error", () => undefined);
  body.destroy();
}

/**
 * Resolves whether the body has any bytes, without consuming them: it waits until data is buffered
 * (true) or the stream ends empty (false). Reading a chunk and unshifting it back would race the
 * stream's 'end' on a short body.
 */
export function hasBytes(body: Readable): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      body.off("readable", onReadable);
      body.off("end", onEnd);
      body.off("error", onError);
    };
    const onReadable = (): void => {
      if (body.readableLength > 0) {
        cleanup();
        resolve(true);
      } else {
        // Nothing buffered: this is the end-of-stream notice; read() lets 'end' fire.
        body.read(0);
      }
    };
    const onEnd = (): void => {
      cleanup();
      resolve(false);
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    body.on("readable", onReadable);
    body.once("end", onEnd);
    body.once("error", onError);
  });
}
