/**
 * `aciimg process` on a pool (`--backends N`, `--with-local`, or one remote backend, for its
 * window that adapts to the link; docs/cli.md "A pool of backends"): every member
 * starts at once and the batch begins as soon as one serves; the others join as they become
 * healthy. Each file goes to the least busy member (engine/pool.ts); one whose member vanished
 * is sent again to another, so nothing is lost and each output is written once. A member that
 * cannot start (quota, capacity) is reported and the batch goes on with the rest.
 */
import { setMaxListeners } from "node:events";
import { screensSvg, type Config } from "../../config.js";
import { isVanished } from "../../engine/call-retry.js";
import type { MemberView, Pool, PoolEvent } from "../../engine/pool-types.js";
import { formatDuration } from "../../units.js";
import { driftWarning } from "../backend-settings.js";
import { printWarning } from "../context.js";
import type { ImagePlan } from "./plan.js";
import type { createBatchReport } from "./batch-report.js";
import { backendCpus } from "./io.js";
import { runJobs, type BatchContext, type Job, type Route } from "./one.js";

export interface PoolBatch {
  config: Config;
  plan: ImagePlan;
  signal: AbortSignal;
  fits: BatchContext["fits"];
  /** `--concurrency`: images in flight across the pool; else each member's window decides. */
  concurrency: number | undefined;
  report: ReturnType<typeof createBatchReport>;
  onWritten?: BatchContext["onWritten"];
}

/** The most a member's window grows to: enough for a member 100 ms away with 4 CPUs. */
const maxWindow = 64;

/**
 * Runs the batch's `jobs` on a pool opened for it, and closes the pool (lastUsed written, the local member taken down).
 */
export async function runPoolBatch(batch: PoolBatch, jobs: readonly Job[]): Promise<void> {
  const { isPoolOfOne, openPool } = await import("../../compose.js");
  const { reporter } = batch.report;
  let begun = false;
  // A pool of one (one remote backend, for its window) talks as a single backend does: no labels.
  const single = isPoolOfOne(batch.config);
  const provider = batch.config.provider;
  // Assigned before any event can arrive: members start in `pool.start` below.
  let pool: Pool | undefined;
  pool = await openPool(
    batch.config,
    {
      // Two images per member CPU to start with (as for one backend); the window adapts from there.
      initialWindow: async (record) => 2 * ((await backendCpus(record)) ?? 1),
      maxWindow,
      ...(batch.concurrency === undefined ? {} : { maxInFlight: batch.concurrency }),
      onPhase: (label, phase) => {
        if (!begun) {
          const what = single ? `starting a ${provider} backend… ${phase}` : `starting backends… ${label}: ${phase}`;
          reporter.phase(what);
        }
      },
      onEvent: (event) => {
        const text = single ? singleNoteOf(event) : noteOf(event, pool?.members() ?? []);
        if (text) reporter.note(text);
      },
    },
    { warn: printWarning },
  );
  const members = pool.members();
  // One abort listener per file waiting for a slot, on the batch's signal: bounded by the workers.
  setMaxListeners(members.length * maxWindow + 16, batch.signal);
  if (!single) batch.report.countBy(members.map((m) => m.label));
  try {
    reporter.phase(
      single
        ? `connecting to the ${provider} backend…`
        : `starting ${members.length} backends (${members.map((m) => m.label).join(", ")})…`,
    );
    await pool.start(batch.signal);
    begun = true;
    batch.report.begin();
    const started = pool;
    // A vanished member's file is sent again, to another: at most once per member, plus the
    // pool's revivals when every member had vanished. A timed-out one is not (isVanished): its
    // member may still be rendering it.
    const attempts = members.length + 2;
    const route: Route = async (attempt) => {
      for (let tries = 1; ; tries++) {
        const slot = await started.acquire(batch.signal);
        try {
          return single ? { value: await attempt(slot) } : { value: await attempt(slot), label: slot.label };
        } catch (error) {
          if (!isVanished(error) || batch.signal.aborted || tries >= attempts) throw error;
        } finally {
          slot.release();
        }
      }
    };
    // Enough workers to fill every member's window; each waits for a slot before it opens a file.
    const workers = batch.concurrency ?? members.length * maxWindow;
    const { plan, signal, fits } = batch;
    const context = {
      plan,
      signal,
      fits,
      screenSvg: screensSvg(batch.config),
      route,
      requestTimeoutMs: batch.config.requestTimeoutMs,
      onWritten: batch.onWritten,
    };
    await runJobs(context, jobs, workers, batch.report.record);
  } finally {
    await pool.close();
  }
}

/** A pool of one says only what a single backend says: a drift warning (its errors end the batch). */
function singleNoteOf(event: PoolEvent): string | undefined {
  if (event.kind !== "ready") return undefined;
  const drift = driftWarning(event.result.record, event.result.drift);
  return drift ? `aciimg: warning: ${drift}` : undefined;
}

/** The line a person reads when a member joins, fails, vanishes or is started again. */
function noteOf(event: PoolEvent, members: readonly MemberView[]): string | undefined {
  const serving = members.filter((m) => m.state === "ready").length;
  const starting = members.filter((m) => m.state === "starting").length;
  const of = `${serving} of ${members.length} serving${starting ? `, ${starting} starting` : ""}`;
  switch (event.kind) {
    case "ready": {
      const { result } = event;
      const drift = driftWarning(result.record, result.drift);
      const how = result.created ? `started in ${formatDuration(result.readyMs)}` : "already running";
      return `aciimg: ${event.label} serving (${how}); ${of}${drift ? `\naciimg: warning: ${drift}` : ""}`;
    }
    case "failed":
      return (
        `aciimg: ${event.label} could not start (${event.error.code}): ${event.error.message}\n` +
        `aciimg: ${of}${serving + starting > 0 ? "; the batch goes on without it" : ""}`
      );
    case "gone":
      return `aciimg: ${event.label} vanished (${event.error.message}); its images go to the other backends; ${of}`;
    case "reviving":
      return `aciimg: every backend had vanished; starting ${event.label} again`;
  }
}
