/** Resolves on the first SIGTERM or SIGINT, so a server can close and the process exit 0. */
export function waitForStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      resolve(signal);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
}

export interface StopSignal {
  signal: AbortSignal;
  /** The signal that aborted `signal` (SIGINT until one arrives). */
  received(): "SIGINT" | "SIGTERM";
  /** Stops listening (Node's default handling returns). */
  dispose(): void;
}

/** SIGINT or SIGTERM aborts `signal` once; a second one gets Node's default (exit at once). */
export function stopSignal(): StopSignal {
  const controller = new AbortController();
  let received: "SIGINT" | "SIGTERM" = "SIGINT";
  const on = (signal: "SIGINT" | "SIGTERM") => (): void => {
    received = signal;
    controller.abort();
  };
  const onInt = on("SIGINT");
  const onTerm = on("SIGTERM");
  process.once("SIGINT", onInt);
  process.once("SIGTERM", onTerm);
  return {
    signal: controller.signal,
    received: () => received,
    dispose: () => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
    },
  };
}
