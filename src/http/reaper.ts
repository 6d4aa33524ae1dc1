/**
 * `serve`'s own cleanup: what the Functions app's `cleanup` timer does, as a loop inside the
 * server, so a backend started through `serve` is deleted once idle without cron.
 */
import type { Engine } from "../engine/types.js";

export interface ReaperOptions {
  engine: Engine;
  /** A backend idle longer than this is deleted (config.idleMs). */
  idleMs: number;
  /** Time between two passes. */
  everyMs: number;
  log: (line: string) => void;
}

/** Starts reaping every `everyMs`; `stop()` ends the loop and waits for a pass in progress. */
export function startReaper(options: ReaperOptions): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> = Promise.resolve();
  let stopped = false;

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      pass = reapOnce().finally(schedule);
    }, options.everyMs);
    // Never the reason the process stays alive.
    timer.unref();
  };

  async function reapOnce(): Promise<void> {
    try {
      const report = await options.engine.reap({ idleMs: options.idleMs });
      for (const ref of report.removed) options.log(`reaped backend ${ref.name} (${ref.reason})`);
    } catch (error) {
      // A failed pass (state briefly locked, ARM throttling) is retried on the next one.
      options.log(`reap failed: ${(error as Error).message}`);
    }
  }

  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await pass;
    },
  };
}
