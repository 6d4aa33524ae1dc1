/**
 * `process --dry-run`: the batch as planned, said and not done. Each output is "would write" or
 * "up to date" (or failed or skipped, as the run would say); the summary counts them, with the
 * bytes read in and the bytes of the outputs already there. No backend is started, nothing is
 * written: no output, no folder, no record, no manifest.
 */
import type { Writable } from "node:stream";
import { formatBytes } from "../../units.js";
import type { PlannedBatch } from "./prepare.js";

/** Says the plan; resolves with the exit code a run would have had so far (1 when an input already failed). */
export function reportDryRun(batch: PlannedBatch, pruning: readonly string[], json: boolean, stdout: Writable): number {
  const stderr = process.stderr;
  const lines = [
    ...batch.early,
    ...batch.pending.map((job) => ({ input: job.input, output: job.shownOutput, status: "would-write" as const })),
  ];
  const removals = pruning.map((output) => ({ input: null, output, status: "would-remove" as const }));
  const count = (status: string) => lines.filter((l) => l.status === status).length;
  const bytesOut = batch.early.reduce((sum, r) => sum + (r.status === "up-to-date" ? (r.bytes ?? 0) : 0), 0);
  const summary = {
    dryRun: true,
    total: lines.length,
    inputs: batch.inputs,
    wouldWrite: count("would-write"),
    upToDate: count("up-to-date"),
    skipped: count("skipped"),
    failed: count("failed"),
    wouldRemove: removals.length,
    bytesIn: batch.bytesIn,
    bytesOut,
  };
  if (json) {
    for (const line of [...lines, ...removals]) stdout.write(`${JSON.stringify(line)}\n`);
    stdout.write(`${JSON.stringify({ summary })}\n`);
  } else {
    for (const line of lines) {
      const said =
        line.status === "would-write" ? "would write" : line.status === "up-to-date" ? "up to date" : line.status;
      const error = "error" in line && line.error ? `: ${line.error}` : "";
      stdout.write(`${said} ${line.input}${line.output ? ` -> ${line.output}` : ""}${error}\n`);
    }
    for (const { output } of removals) stdout.write(`would remove ${output} (--prune)\n`);
    const skipped = summary.skipped ? `, ${summary.skipped} skipped` : "";
    const failed = summary.failed ? `, ${summary.failed} failed` : "";
    const remove = removals.length ? `, ${removals.length} to remove` : "";
    stderr.write(
      `dry run: ${summary.wouldWrite} to write, ${summary.upToDate} up to date${skipped}${failed}${remove}` +
        ` (${summary.total} outputs of ${summary.inputs} inputs); ${formatBytes(summary.bytesIn)} in → ` +
        `${formatBytes(bytesOut)} out already there; nothing was started or written\n`,
    );
  }
  return summary.failed > 0 ? 1 : 0;
}
