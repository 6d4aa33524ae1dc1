/**
 * The SVG screen at the HTTP surface: an upload the screen refuses (src/protocol/svg-screen.ts)
 * is answered 400 before a backend is woken, for imaginary, which cannot stop a render.
 */
import type { Readable } from "node:stream";
import { needsSvgScreen, screenSvg } from "../protocol/svg-screen.js";
import { errorReply, type HandlerResponse } from "./replies.js";
import type { Image } from "./upload.js";

/** 400 for an SVG the screen refuses, read whole first (at most the upload limit); undefined when it may go. */
export async function svgRefusal(
  image: Extract<Image, { ok: true }>,
  screen: boolean,
): Promise<HandlerResponse | undefined> {
  if (!screen || !needsSvgScreen(image.prefix)) return undefined;
  const whole = typeof image.body === "function" ? await readAll(image.body()) : image.body;
  if (whole === undefined) return undefined; // the upload failed: the engine's call reports it as before
  const finding = screenSvg(whole);
  if (!finding) return undefined;
  return errorReply(
    400,
    `SVG input refused: it has ${finding.construct} ` +
      `(${finding.why}, and the backend cannot stop a render); ` +
      "the server sends such SVGs only with --allow-svg-filters or ACIIMG_ALLOW_SVG_FILTERS=1",
  );
}

/** The whole of a relayed upload, or undefined when it fails (cut short, too slow). */
async function readAll(stream: Readable): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk as Buffer);
  } catch {
    return undefined;
  }
  return Buffer.concat(chunks);
}
