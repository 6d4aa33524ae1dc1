/**
 * What a group's backend served, read from its container's logs: the backend writes one access
 * line per finished response in imaginary's format (src/backend/server.ts `logAccess`), so a pool
 * test can tell which member a request reached without a counter in the product. Image traffic
 * goes straight to the backend's address, never through the simulator's ARM endpoint.
 */
import { isOperationName } from "../../src/imaginary/catalogue.js";

export interface ServedRequest {
  method: string;
  /** The image operation, e.g. "resize". */
  operation: string;
  status: number;
}

// `127.0.0.1 - - [2024-01-01 10:00:00] "POST /resize?width=10&key=*** HTTP/1.1" 200 1234 0.0123`
const accessLine = /^\S+ - - \[[^\]]+\] "([A-Z]+) \/([^?\s]*)\S* HTTP\/[\d.]+" (\d{3}) /;

/** The image-operation requests in `logs`, any status; `/` and `/health` are not image requests. */
export function servedRequests(logs: string): ServedRequest[] {
  return logs.split("\n").flatMap((line) => {
    const match = accessLine.exec(line);
    if (!match || !isOperationName(match[2] as string)) return [];
    return [{ method: match[1] as string, operation: match[2] as string, status: Number(match[3]) }];
  });
}
