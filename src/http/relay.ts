/**
 * Streams an upload of known length to the backend while it is still arriving, and keeps a copy
 * so the engine's one retry can replay it. Without this, `serve` would receive the whole image
 * before sending any of it on, adding a full transfer time to every request (bench/serve.mjs).
 *
 * The source is read eagerly to its end whatever the consumer does: memory is bounded by the
 * declared length (itself at most the upload limit), and a slow cold start never stalls the
 * client's upload into Node's request timeout.
 */
import { PassThrough, type Readable } from "node:stream";
import { messages, type Refusal } from "../protocol/replies.js";
import { refusalOf } from "./body-watch.js";

export interface RelayedUpload {
  /** The first bytes (up to `prefixBytes`), for sniffing the format before anything is sent. */
  prefix: Uint8Array;
  /** A fresh stream of the whole upload: what has arrived so far, then the rest as it arrives. */
  open(): Readable;
  /** The request was refused: stop keeping the bytes (the rest is drained, not stored). */
  discard(): void;
}

export type RelayStart = { ok: true; upload: RelayedUpload } | Refusal;

/**
 * Starts relaying `source` of `length` bytes (> 0); resolves once `prefixBytes` have arrived (or
 * all of it). When `stop` aborts (the body was refused: too slow, over the budget), the bytes are
 * dropped and the relay fails with the abort's reason: before the prefix as the result, after it
 * by destroying the consumer's stream. (Long for the stream's events, handled in one closure so
 * no chunk is counted twice.)
 */
export function startRelay(
  source: Readable,
  length: number,
  options: { prefixBytes?: number; stop?: AbortSignal } = {},
): Promise<RelayStart> {
  const prefixBytes = options.prefixBytes ?? 4096;
  const chunks: Buffer[] = [];
  let received = 0;
  let ended = false;
  let failure: Error | undefined;
  let consumer: PassThrough | undefined;

  return new Promise((resolve) => {
    let started = false;
    const upload: RelayedUpload = {
      prefix: new Uint8Array(0),
      open() {
        // A previous attempt's stream is abandoned (the client has destroyed it); only the latest is fed.
        consumer?.destroy();
        const stream = new PassThrough();
        for (const chunk of chunks) stream.write(chunk);
        if (failure) stream.destroy(failure);
        else if (ended) stream.end();
        else consumer = stream;
        return stream;
      },
      discard() {
        source.off("data", onData);
        chunks.length = 0;
        consumer?.destroy();
        consumer = undefined;
        source.resume();
      },
    };
    const start = () => {
      if (started) return;
      started = true;
      const head = Buffer.concat(chunks, received);
      upload.prefix = head.subarray(0, Math.min(prefixBytes, head.length));
      resolve({ ok: true, upload });
    };

    function onData(chunk: Buffer | string): void {
      const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      chunks.push(buffer);
      received += buffer.length;
      consumer?.write(buffer);
      if (received >= Math.min(prefixBytes, length)) start();
    }
    source.on("data", onData);
    source.once("end", () => {
      ended = true;
      consumer?.end();
      consumer = undefined;
      if (received === 0) resolve({ ok: false, status: 400, message: messages.emptyImage });
      else start();
    });
    const fail = (error: Error) => {
      if (failure) return;
      failure = error;
      consumer?.destroy(error);
      consumer = undefined;
      if (!started) resolve(refusalOf(error) ?? { ok: false, status: 400, message: messages.emptyImage });
    };
    source.once("error", fail);
    options.stop?.addEventListener(
      "abort",
      () => {
        source.off("data", onData);
        chunks.length = 0;
        fail(options.stop?.reason instanceof Error ? options.stop.reason : new Error("the upload was refused"));
      },
      { once: true },
    );
    // A client that goes away mid-upload: Node reports 'aborted'/'close' without 'end'.
    source.once("close", () => {
      if (!ended) fail(new Error("the client closed the connection during the upload"));
    });
  });
}
