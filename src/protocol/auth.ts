/** imaginary's API key (docs/reference/imaginary-api.md §1.4): sent as the `API-Key` header or `?key=`. */
import { createHash, timingSafeEqual } from "node:crypto";

/** The key a request presents: the `API-Key` header (its first value), else `?key=`, else "". */
export function presentedKey(header: string | string[] | undefined, query: URLSearchParams): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value || query.get("key") || "";
}

/**
 * A constant-time check against `expected`: both sides are hashed first, so the digests have equal
 * length (timingSafeEqual never throws) and neither the content nor the length of the key leaks
 * through timing. An empty key never passes.
 */
export function keyChecker(expected: string): (given: string) => boolean {
  const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();
  const want = digest(expected);
  return (given) => given.length > 0 && timingSafeEqual(digest(given), want);
}
