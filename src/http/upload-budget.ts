/**
 * A bound on the request bodies held in memory at once. Each upload is kept whole until the
 * backend has answered (the engine may replay it once its backend vanished), so without a bound
 * N concurrent clients could make the server hold N × the upload limit.
 *
 * An upload holds what has arrived, not what it declared: a client that announces
 * `Content-Length: 20000000` and then trickles (or sends nothing) holds only its few bytes, so a
 * handful of such clients cannot lock every other upload out.
 */
export interface UploadBudget {
  /** Bytes not held by any upload now. */
  available(): number;
  /** Opens a reservation for one upload, holding nothing yet. */
  open(): UploadReservation;
}

export interface UploadReservation {
  /** Holds `bytes` more; false (holding nothing more) when the budget cannot take them now. */
  grow(bytes: number): boolean;
  /** Gives back everything this upload held; later `grow`s are no-ops. Idempotent. */
  release(): void;
}

/** Creates a budget of `totalBytes`. */
export function createUploadBudget(totalBytes: number): UploadBudget {
  let held = 0;
  return {
    available: () => totalBytes - held,
    open() {
      let mine = 0;
      let released = false;
      return {
        grow(bytes) {
          if (released) return true;
          if (held + bytes > totalBytes) return false;
          held += bytes;
          mine += bytes;
          return true;
        },
        release() {
          if (released) return;
          released = true;
          held -= mine;
          mine = 0;
        },
      };
    },
  };
}
