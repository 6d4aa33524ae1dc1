/**
 * What a group's backend served, read from its container's logs: the backend writes one access
 * line per finished response in imaginary's format (src/backend/server.ts `logAccess`), so a pool
 * test can tell which member a request reached without a counter in the product. Image traffic
 * goes straight to the backend's address, never through the simulator's ARM endpoint.
 *
 * The lines reach the simulator through a pipe, after the client already has its response, so a
 * read right after a request may miss it. A fence closes that race: one keyless GET /health with a
 * unique query (refused 401, and logged like any response), then wait for its line. The backend
 * writes its lines in the order responses finish, so every earlier request's line is in by then.
 */
import { randomUUID } from "node:crypto";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { isOperationName } from "../../src/protocol/catalogue.js";
import type { RunningContainer } from "./containers.js";

export interface ServedRequest {
  method: string;
  /** The image operation, e.g. "resize". */
  operation: string;
  status: number;
}

// `127.0.0.1 - - [2024-01-01 10:00:00] "POST /resize?width=10&key=*** HTTP/1.1" 200 1234 0.0123`
const accessLine = /^\S+ - - \[[^\]]+\] "([A-Z]+) \/([^?\s]*)\S* HTTP\/[\d.]+" (\d{3}) /;

/** The image-operation requests in `logs`, any status; `/`, `/health` and the fences are not image requests. */
export function servedRequests(logs: string): ServedRequest[] {
  return logs.split("\n").flatMap((line) => {
    const match = accessLine.exec(line);
    if (!match || !isOperationName(match[2] as string)) return [];
    return [{ method: match[1] as string, operation: match[2] as string, status: Number(match[3]) }];
  });
}

/** The backend's URL from its `{"listening":{…,"url":…}}` stdout line (src/cli/commands/backend.ts). */
function listeningUrl(logs: string): string {
  const line = logs.split("\n").find((l) => l.startsWith('{"listening"'));
  const url = line ? (JSON.parse(line) as { listening?: { url?: unknown } }).listening?.url : undefined;
  if (typeof url !== "string") throw new Error("the container's backend never said where it listens");
  return url;
}

/** Every request the container answered before this call, once its log lines are all in. Bounded by `signal`. */
export async function servedBy(container: RunningContainer, signal: AbortSignal): Promise<ServedRequest[]> {
  if (!container.untilLogged) throw new Error("this container's launcher cannot tell when its logs are complete");
  const fence = `sim-fence=${randomUUID()}`;
  const url = new URL(`/health?${fence}`, listeningUrl(container.logs()));
  const logged = container.untilLogged(fence, signal);
  await new Promise<void>((resolve, reject) => {
    // The backend's certificate is its own (pinned by the product); the fence needs no trust.
    const send =
      url.protocol === "https:"
        ? httpsRequest(url, { rejectUnauthorized: false, signal })
        : httpRequest(url, { signal });
    send.once("response", (res) => res.resume().once("end", resolve).once("error", reject));
    send.once("error", reject);
    send.end();
  });
  await logged;
  return servedRequests(container.logs());
}
