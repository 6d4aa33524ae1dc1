/**
 * Go's fmt, as imaginary's error texts show it: `%q` of a string, and `%q` of a pipeline param
 * value as encoding/json decodes it into interface{} (docs/reference/imaginary-api.md §1.4, §1.6).
 * test/fixtures/go-format.json holds real Go's output for these.
 */

/** Go's %q of a string (strconv.Quote): printable runes as they are, the others escaped. */
export function goQuote(s: string): string {
  let out = '"';
  for (const rune of s) out += quoteRune(rune);
  return `${out}"`;
}

const shortEscapes: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\x07": "\\a",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\v": "\\v",
};
// unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
const printable = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

function quoteRune(rune: string): string {
  const short = shortEscapes[rune];
  if (short !== undefined) return short;
  if (printable.test(rune)) return rune;
  const code = rune.codePointAt(0) ?? 0;
  // A lone surrogate has no UTF-8 form: Go's decoders put U+FFFD in its place, which is printable.
  if (code >= 0xd800 && code <= 0xdfff) return "\ufffd";
  if (code < 0x20 || code === 0x7f) return `\\x${hex(code, 2)}`;
  return code < 0x10000 ? `\\u${hex(code, 4)}` : `\\U${hex(code, 8)}`;
}

function hex(code: number, digits: number): string {
  return code.toString(16).padStart(digits, "0");
}

/**
 * Go's %q of a JSON value (params.go applies it to every param value): a string is quoted, a
 * float64 or bool is the bad-verb form `%!q(float64=1e+06)`, an array or object is printed
 * element by element as `[a b]` and `map["k":v]` with the keys sorted, and a nil is `%!q(<nil>)`
 * alone but `<nil>` inside an array or object.
 */
export function goValue(v: unknown): string {
  return v === null ? "%!q(<nil>)" : quoteElement(v);
}

function quoteElement(v: unknown): string {
  if (typeof v === "string") return goQuote(v);
  if (typeof v === "boolean") return `%!q(bool=${v})`;
  if (typeof v === "number") return `%!q(float64=${goFloat(v)})`;
  if (v === null || typeof v !== "object") return "<nil>";
  if (Array.isArray(v)) return `[${v.map(quoteElement).join(" ")}]`;
  // fmt sorts string keys by their bytes: UTF-8 order, not JavaScript's UTF-16 order.
  const entries = Object.entries(v).sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return `map[${entries.map(([key, value]) => `${goQuote(key)}:${quoteElement(value)}`).join(" ")}]`;
}

/** Go's %v of a float64 (%g, shortest digits): exponent form below 1e-4 and from 1e+06, two exponent digits. */
function goFloat(v: number): string {
  if (Object.is(v, -0)) return "-0";
  const [mantissa = "", exponent = "0"] = v.toExponential().split("e");
  const exp = Number(exponent);
  if (exp >= -4 && exp < 6) return String(v);
  return `${mantissa}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
}

/** params.go's message for a parameter that did not coerce; `shown` is already %q-formatted. */
export function paramError(name: string, shown: string, error: string): string {
  return `error while processing parameter "${name}" with value ${shown}, error: ${error}`;
}
