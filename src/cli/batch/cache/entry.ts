/**
 * One cache entry as both stores keep it: a header line that names the format and the key, one
 * line of JSON with the meta, then the body. One file (or blob) per entry, so a rename (or one
 * Put Blob) replaces a whole entry at once and a reader never pairs a body with another's meta.
 * The key is in the header so that an entry copied or renamed under another key's name (by a
 * person, a restore tool or someone who can write the folder) is not served for that key.
 */
import { createHash } from "node:crypto";
import { AciimgError } from "../../../errors.js";
import type { CachedRendition, RenditionMeta } from "./index.js";

const magic = "aciimg-rendition 1\n";
/** More than any header this code writes (about 200 bytes); what is longer is damaged. */
export const headerMaxBytes = 1024;

/** The formats a rendition may have: what the built-in backend and imaginary write. */
export const renditionFormats: readonly string[] = ["webp", "jpeg", "png", "avif", "tiff", "gif"];

/** A cache key: 64 lowercase hex characters (a sha256 the batch derives from an input and its operations). */
export function isCacheKey(key: string): boolean {
  return /^[0-9a-f]{64}$/.test(key);
}

/** Fails (a caller's bug, not the cache's) unless `key` is a cache key. */
export function checkKey(key: string): void {
  if (!isCacheKey(key)) {
    throw new AciimgError("E_INTERNAL", `a cache key is 64 lowercase hex characters, got ${JSON.stringify(key)}`);
  }
}

/** The lowercase hex sha256 of `body`. */
export function sha256Hex(body: Uint8Array): string {
  return createHash("sha256").update(body).digest("hex");
}

/** What is wrong with `meta` (a parsed header or a caller's), or undefined when it is well-formed. */
export function metaProblem(meta: unknown, maxEntryBytes: number): string | undefined {
  if (typeof meta !== "object" || meta === null) return "its meta is not an object";
  const { format, width, height, bytes, hash } = meta as Record<string, unknown>;
  if (typeof format !== "string" || !renditionFormats.includes(format))
    return `its format ${JSON.stringify(format)} is none of ${renditionFormats.join(", ")}`;
  for (const [name, value] of [
    ["width", width],
    ["height", height],
  ] as const) {
    if (!Number.isSafeInteger(value) || (value as number) < 1) return `its ${name} ${JSON.stringify(value)} is no size`;
  }
  if (!Number.isSafeInteger(bytes) || (bytes as number) < 0) return `its length ${JSON.stringify(bytes)} is no length`;
  if ((bytes as number) > maxEntryBytes) return `it is ${bytes} bytes, more than the ${maxEntryBytes} an entry may be`;
  if (typeof hash !== "string" || !/^[0-9a-f]{64}$/.test(hash)) return "its hash is not a sha256";
  return undefined;
}

/** What is wrong with a rendition a caller gives to `put`, or undefined when it may be stored. */
export function renditionProblem({ meta, body }: CachedRendition, maxEntryBytes: number): string | undefined {
  const problem = metaProblem(meta, maxEntryBytes);
  if (problem) return problem;
  if (body.length !== meta.bytes) return `its body is ${body.length} bytes, its meta says ${meta.bytes}`;
  if (sha256Hex(body) !== meta.hash) return "its body's sha256 is not the hash its meta gives";
  return undefined;
}

/** The entry's header (magic, then the meta with its key as one JSON line); the body follows it. */
export function encodeHeader(key: string, meta: RenditionMeta): Buffer {
  const { format, width, height, bytes, hash } = meta;
  return Buffer.from(`${magic}${JSON.stringify({ key, format, width, height, bytes, hash })}\n`);
}

/** An entry's longest possible length: the header and a body at the bound. */
export function entryMaxBytes(maxEntryBytes: number): number {
  return headerMaxBytes + maxEntryBytes;
}

export type Decoded = { ok: true; rendition: CachedRendition } | { ok: false; why: string };

/**
 * The rendition an entry read for `key` holds, verified: its header is ours and names `key`, its
 * meta is well-formed, its body has the length and the sha256 the meta gives. The body is a view
 * into `data`, not a copy.
 */
export function decodeEntry(key: string, data: Buffer, maxEntryBytes: number): Decoded {
  const fail = (why: string): Decoded => ({ ok: false, why });
  if (data.length < magic.length || data.toString("latin1", 0, magic.length) !== magic)
    return fail("it does not start as a cache entry does");
  const end = data.indexOf(0x0a, magic.length);
  if (end < 0 || end >= headerMaxBytes) return fail("its header has no end");
  let header: unknown;
  try {
    header = JSON.parse(data.toString("utf8", magic.length, end));
  } catch {
    return fail("its header is not JSON");
  }
  const problem = metaProblem(header, maxEntryBytes);
  if (problem) return fail(problem);
  const { key: named, format, width, height, bytes, hash } = header as RenditionMeta & { key: unknown };
  if (named !== key) return fail(`it is the entry of another key (${JSON.stringify(String(named).slice(0, 64))})`);
  const body = data.subarray(end + 1);
  if (body.length !== bytes) return fail(`its body is ${body.length} bytes, its header says ${bytes}`);
  if (sha256Hex(body) !== hash) return fail("its body's sha256 is not the one its header gives");
  return { ok: true, rendition: { meta: { format, width, height, bytes, hash }, body } };
}
