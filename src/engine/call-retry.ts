/**
 * `call`'s retry: a request whose backend vanished (reaped, killed, replaced) is sent again to the
 * backend ensure provides next, a bounded number of times.
 */
import { isAciimgError } from "../errors.js";
import type { BackendRecord, ImageRequest, ImageResponse } from "./types.js";

/**
 * How often one call provisions again after its backend vanished, by default. Bounded, so an input
 * that crashes the backend costs at most this many extra backends before the call fails.
 */
export const defaultVanishedRetries = 2;

/**
 * True when an error means "the backend this record names is not there (any more)", and so no
 * copy of the request is still being worked on: the only errors a request is sent again on.
 *
 * What counts: nothing reached a backend (refused, no socket file, no route, connect timeout, a
 * peer that is not ours: untrusted, or 401 to our key), the provider says the group is gone, or
 * the connection broke under the request (reset, closed by the other side). A broken connection
 * does not prove the backend is gone (a keep-alive race, a restart), but it proves the request
 * is not held there any more: a backend that crashed on the image took its copy with it. The
 * re-ensure then decides: it probes /health and asks the provider, reuses a backend that is
 * still healthy, and provisions only for one that is gone; bounded, so an image that crashes
 * every backend fails after `defaultVanishedRetries`.
 *
 * What does not: a response timeout (E_REQUEST_TIMEOUT). The request reached a backend that has
 * not answered yet, which is what a costly image looks like; it is very likely still rendering,
 * so a second copy (here or on a pool's other member) would only render it again and time out
 * the same way. It fails, naming the limit and how to raise it.
 */
export function isVanished(error: unknown): boolean {
  if (!isAciimgError(error)) return false;
  // Untrusted: something else answers at the address (an ACI group's IP can change on restart);
  // ensure re-reads the provider and refuses for good when the backend is still said to be there.
  if (error.code === "E_BACKEND_UNREACHABLE" || error.code === "E_BACKEND_UNTRUSTED") return true;
  // 401: the endpoint answers with another key, so it is not our backend (port reused).
  return error.code === "E_IMAGE" && error.detail?.status === 401;
}

export interface RetryingSend {
  /** Sends the request to the backend `record` names. */
  send(record: BackendRecord, request: ImageRequest): Promise<ImageResponse>;
  /** Forgets a backend found vanished, so the next ensure does not reuse it. */
  forget(record: BackendRecord): void;
  /** A healthy backend (provisions when needed). */
  ensure(signal: AbortSignal | undefined): Promise<BackendRecord>;
}

/**
 * Sends `request` to `record`; on a vanished backend forgets it, ensures another and sends again
 * (at most `maxRetries` times; 0 for a pool's member, whose pool sends the request elsewhere).
 */
export async function sendWithRetry(
  record: BackendRecord,
  request: ImageRequest,
  backends: RetryingSend,
  maxRetries = defaultVanishedRetries,
): Promise<ImageResponse> {
  for (let retries = 0; ; retries++) {
    try {
      return await backends.send(record, request);
    } catch (error) {
      if (!isVanished(error)) throw error;
      // Reaped, killed or replaced under us: forget it (the next ensure probes, and provisions
      // if needed), then retry. Operations are idempotent (docs/reference/imaginary-api.md §1.5), so a replay
      // is safe. Normally one retry is enough; a second covers a reaper with a tiny idle limit
      // deleting even the backend provisioned for the first retry before the replay reached it.
      backends.forget(record);
      if (request.signal?.aborted || retries >= maxRetries) throw error;
      record = await backends.ensure(request.signal);
    }
  }
}
