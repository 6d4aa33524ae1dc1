/**
 * An upload caught in the middle: the server has accepted the request (its `100 Continue` came
 * back) and part of the body has been sent. Used to prove graceful shutdown finishes in-flight
 * work: the caller stops the server, then calls `finish()` to send the rest.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { buffer } from "node:stream/consumers";

export interface UploadInFlight {
  /** Sends the rest of the body; resolves with the status and the whole response body. */
  finish(): Promise<{ status: number | undefined; body: Buffer }>;
}

/** POSTs `body` to `url` with `API-Key: key`, and resolves once the first `sentBytes` are on their way. */
export async function startUpload(url: string, key: string, body: Buffer, sentBytes: number): Promise<UploadInFlight> {
  // `Expect: 100-continue`: the "continue" arrives once the server has the request in hand.
  const req = httpRequest(url, {
    method: "POST",
    headers: { "api-key": key, "content-length": String(body.length), expect: "100-continue" },
  });
  const inHand = new Promise<void>((resolve, reject) => {
    req.once("continue", () => resolve());
    req.once("error", reject);
  });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.once("response", resolve);
    req.once("error", reject);
  });
  req.flushHeaders();
  await inHand;
  req.write(body.subarray(0, sentBytes));
  return {
    async finish() {
      req.end(body.subarray(sentBytes));
      const res = await response;
      return { status: res.statusCode, body: await buffer(res) };
    },
  };
}
