/**
 * Go's formatting, as imaginary's error texts show it: `%q` of strings and of JSON values, `%v`
 * of a float64 (docs/reference/imaginary-api.md §1.4, §1.6).
 */

/** Go's %q for a string (close enough: JSON escaping is Go's for printable text). */
export function goQuote(s: string): string {
  return JSON.stringify(s).replace(/\\u00([0-9a-f]{2})/g, "\\x$1");
}

/** Go's %q applied to a non-string JSON value prints `%!q(type=value)` (params.go bug, §1.6). */
export function goValue(v: unknown): string {
  if (typeof v === "string") return goQuote(v);
  if (typeof v === "boolean") return `%!q(bool=${v})`;
  if (typeof v === "number") return `%!q(float64=${goFloat(v)})`;
  if (v === null) return "%!q(<nil>)";
  return Array.isArray(v) ? `%!q([]interface {}=${JSON.stringify(v)})` : `%!q(map[string]interface {}=${JSON.stringify(v)})`;
}

/** Go's %v for a float64: shortest digits, exponent form below 1e-4 or from 1e21. */
function goFloat(v: number): string {
  const exp = v === 0 ? 0 : Math.floor(Math.log10(Math.abs(v)));
  if (exp < -4 || exp >= 21) {
    return v.toExponential().replace(/e([+-])(\d)$/, "e$10$2");
  }
  return String(v);
}

/** params.go's message for a parameter that did not coerce; `shown` is already %q-formatted. */
export function paramError(name: string, shown: string, error: string): string {
  return `error while processing parameter "${name}" with value ${shown}, error: ${error}`;
}
