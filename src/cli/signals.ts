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

/** What stops a command's work: a signal, or its standard output closed by the reader (EPIPE: `aciimg … | head`). */
export type StopReason = "SIGINT" | "SIGTERM" | "EPIPE";

export interface StopSignal {
  signal: AbortSignal;
  /** What aborted `signal` (SIGINT until something does). */
  received(): StopReason;
  /** Stops listening (Node's default handling returns). */
  dispose(): void;
}

/**
 * SIGINT, SIGTERM or a closed stdout aborts `signal` once; a second signal gets Node's default
 * (exit at once). A closed stdout stops the work as a signal would, as SIGPIPE stops a C program:
 * nobody reads the report any more.
 */
export function stopSignal(): StopSignal {
  const controller = new AbortController();
  let received: StopReason = "SIGINT";
  const stop = (reason: StopReason): void => {
    if (controller.signal.aborted) return;
    received = reason;
    controller.abort();
  };
  // Our listeners stay on through the first signal: ora's cursor restore (signal-exit) re-raises a
  // signal when it finds itself the only listener, which killed a stopping batch at a terminal
  // before its summary. A second signal is raised again here, without us, for the default exit.
  const onSignal = (name: "SIGINT" | "SIGTERM"): void => {
    if (!controller.signal.aborted) return stop(name);
    dispose();
    process.kill(process.pid, name);
  };
  const onInt = (): void => onSignal("SIGINT");
  const onTerm = (): void => onSignal("SIGTERM");
  const onStdoutError = (error: NodeJS.ErrnoException): void => {
    if (error.code === "EPIPE") stop("EPIPE");
  };
  const dispose = (): void => {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
    process.stdout.off("error", onStdoutError);
  };
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  process.stdout.on("error", onStdoutError);
  return { signal: controller.signal, received: () => received, dispose };
}

/** How a stop reads in a message: "stopped by …". */
export function stopWords(reason: StopReason): string {
  return reason === "EPIPE" ? "EPIPE (standard output closed)" : reason;
}
