/**
 * A screen for SVG inputs before they reach a backend whose render time nothing bounds (imaginary
 * in ACI): librsvg renders a filter chain for minutes from a 211-byte file
 * (feMorphology radius 100 + feGaussianBlur at 3000×3000), and imaginary has no way to stop it.
 * Refused, unless the person opts in: filters (the `<filter>` element, its `fe*` primitives, and
 * the `filter` property or attribute, which also takes CSS functions like blur()), and what would
 * hide them from a text scan: entity declarations (they expand to markup or property names),
 * `data:` URLs that are not raster images (a nested SVG or stylesheet), and encodings other than
 * UTF-8 and Latin-1. Character references and CSS escapes are decoded before the scan. A match in
 * a comment or in text is refused too: this screen errs on the side of refusing.
 */

/** What the screen found: the construct as a person would search the file for it, and why it is refused. */
export interface SvgFinding {
  construct: string;
  why: string;
}

import { detectFormat } from "./formats.js";

const utf8 = new TextDecoder("utf-8", { fatal: false });

/**
 * Whether an input whose first bytes are `head` (4 KiB, or all of it) is screened: an SVG, or
 * anything no magic number names, which an imaginary's libvips may still load as SVG.
 */
export function needsSvgScreen(head: Uint8Array): boolean {
  const format = detectFormat(head);
  return format === undefined || format === "svg";
}

const filterWhy = "SVG filters can take minutes to render from a few bytes";
const hidesWhy = "it can hide constructs this check cannot see";

/** The first costly or hiding construct in `svg`, or undefined when there is none. */
export function screenSvg(svg: Uint8Array): SvgFinding | undefined {
  const raw = utf8.decode(svg);
  const encoding = /^\s*(?:\uFEFF)?<\?xml[^>]*?\bencoding\s*=\s*["']([^"']*)["']/i.exec(raw)?.[1];
  if (encoding !== undefined && !/^(utf-?8|us-ascii|ascii|iso-8859-1|latin-?1)$/i.test(encoding.trim())) {
    return { construct: `encoding="${encoding}"`, why: hidesWhy };
  }
  if (/<!ENTITY/i.test(raw)) return { construct: "<!ENTITY", why: hidesWhy };
  const text = decodeEscapes(raw);
  const element = /<\s*(?:[\w.-]+:)?(filter|fe[a-z]+)\b/i.exec(text);
  if (element) return { construct: `<${element[1]}>`, why: filterWhy };
  // filter="url(#f)" as an attribute, filter: blur(9px) as CSS (a style attribute or element).
  if (/\bfilter\s*[:=]/i.test(text)) return { construct: "filter property", why: filterWhy };
  const data = /data:\s*([^;,"')\s]*)/gi;
  for (let match = data.exec(text); match !== null; match = data.exec(text)) {
    const type = (match[1] ?? "").toLowerCase();
    if (!/^image\/(png|jpe?g|gif|webp)$/.test(type)) return { construct: `data:${type} URL`, why: hidesWhy };
  }
  return undefined;
}

/**
 * XML character references (`&#102;`, `&#x66;`) and CSS escapes (`\66 `, `\f`) decoded, so that
 * `&#102;ilter` and `f\69lter` read as `filter`. Decoding where XML or CSS would not is harmless:
 * it can only make the scan find more.
 */
function decodeEscapes(text: string): string {
  const fromCode = (code: number): string => (code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : "");
  return text
    .replace(/&#x([0-9a-f]+);?/gi, (_, hex: string) => fromCode(parseInt(hex, 16)))
    .replace(/&#([0-9]+);?/g, (_, dec: string) => fromCode(parseInt(dec, 10)))
    .replace(/\\([0-9a-f]{1,6})\s?/gi, (_, hex: string) => fromCode(parseInt(hex, 16)))
    .replace(/\\(.)/g, "$1");
}
