/**
 * A bound on the request bodies held in memory at once. Each upload is kept whole until the
 * backend has answered (the engine may replay it once its backend vanished), so without a bound
 * N concurrent clients could make the server hold N × the upload limit.
 */
export interface UploadBudget {
  /** Reserves `bytes`; returns the release function, or undefined when the budget cannot take it now. */
  reserve(bytes: number): (() => void) | undefined;
}

export function createUploadBudget(totalBytes: number): UploadBudget {
  let held = 0;
  return {
    reserve(bytes) {
      if (held + bytes > totalBytes) return undefined;
      held += bytes;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        held -= bytes;
      };
    },
  };
}
