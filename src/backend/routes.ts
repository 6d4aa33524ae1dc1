/**
 * The backend's request handler: imaginary's middleware order (docs/reference/imaginary-api.md
 * §1.3), then the index, /health or an image operation (handler.ts), and its error answer.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import sharp from "sharp";
import { presentedKey, type keyChecker } from "../protocol/auth.js";
import { builtInServer } from "../protocol/frames.js";
import { answerThenLinger, hasUnreadBody, lingerBounds } from "../protocol/linger.js";
import { isOperationName, type OperationName } from "../protocol/operations.js";
import { errorBody, messages, refusedMethod } from "../protocol/replies.js";
import type { BufferPool } from "./buffers.js";
import { handleImage } from "./handler.js";
import type { Mount } from "./mount.js";
import type { createSlots } from "./slots.js";
import type { createStatusSource } from "./status.js";

type Route = OperationName | "index" | "health";

/**
 * Sends imaginary's error body `{"message","status"}` (error.go; newlines stripped). A refusal of
 * a request whose body is still arriving (413, a wrong key) lingers, so the client reads it
 * (linger.ts); `onCut` hears of a client that kept sending past the bounds.
 */
export function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
  onCut?: (droppedBytes: number) => void,
): void {
  const body = errorBody(status, message, "strip");
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const answer = { status, headers: { ...headers, "Content-Type": "application/json" }, body };
  if (hasUnreadBody(res.req)) return answerThenLinger(res.req, res, answer, lingerBounds, onCut);
  res.writeHead(status, { ...answer.headers, "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

function sendJson(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

function routeOf(path: string): Route | undefined {
  if (path === "/") return "index";
  if (path === "/health") return "health";
  const name = path.slice(1);
  return isOperationName(name) ? name : undefined;
}

/** The request handler: imaginary's middleware order, then the index, /health or an image operation. */
export function createHandle(backend: {
  isKey: ReturnType<typeof keyChecker>;
  slots: { intake: ReturnType<typeof createSlots>; work: ReturnType<typeof createSlots> };
  buffers: BufferPool;
  limits: { maxUploadBytes: number; maxResolutionMP: number; maxOutputPixels: number; maxRenderTimeMs: number };
  status: ReturnType<typeof createStatusSource>;
  /** sendError, lingering on a body still arriving. */
  refuse: typeof sendError;
  mount?: Mount;
  renderEnv?: NodeJS.ProcessEnv;
}): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { isKey, slots, buffers, limits, status, refuse, mount, renderEnv } = backend;
  const serverHeader = `${builtInServer} (sharp ${sharp.versions.sharp ?? "?"}, libvips ${sharp.versions.vips})`;
  return async (req, res) => {
    res.setHeader("Server", serverHeader);
    const url = new URL(req.url ?? "/", "http://backend.invalid");
    const route = routeOf(url.pathname);
    const isImageRoute = route !== undefined && route !== "index" && route !== "health";
    // Order of imaginary's middleware (§1.3): GET check, method check, auth, then the handler.
    const refused = refusedMethod(req.method ?? "", isImageRoute, mount !== undefined);
    if (refused) return refuse(res, refused.status, refused.message);
    if (!isKey(presentedKey(req.headers["api-key"], url.searchParams))) return refuse(res, 401, messages.badKey);
    if (route === undefined) return refuse(res, 404, messages.notFound);
    if (route === "index") return sendJson(res, status.index());
    if (route === "health") return sendJson(res, status.health(slots.intake));
    await handleImage({
      req,
      res,
      op: route,
      query: url.searchParams,
      slots,
      buffers,
      limits,
      sendError: refuse,
      ...(mount ? { mount } : {}),
      ...(renderEnv ? { renderEnv } : {}),
    });
  };
}
