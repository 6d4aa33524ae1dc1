/**
 * `aciimg up --backends N`: pre-warms a pool's members (aci-1…aci-N) in parallel and says how each
 * fared. A member that cannot start (quota, capacity) is reported while the others keep running:
 * `process` uses whichever serve. Exits 0 when at least one serves; with none, the error is the
 * first member's (its code, every member's reason in the message).
 */
import type { Config } from "../../config.js";
import type { EnsureResult } from "../../engine/types.js";
import { formatDuration } from "../../units.js";
import { warnDrift } from "../backend-settings.js";
import { canShowProgress, printJson, printWarning } from "../context.js";

export async function upPool(config: Config, json: boolean): Promise<number> {
  const { openPool } = await import("../../compose.js");
  // discardStdin off: ora's raw mode would swallow Ctrl-C (report.ts).
  const text = `starting ${config.backends} ${config.provider} backends…`;
  const spinner =
    !json && canShowProgress()
      ? (await import("ora")).default({ stream: process.stderr, text, discardStdin: false }).start()
      : undefined;
  const ready = new Map<string, EnsureResult>();
  // `up` sends no images: the window is not used. withLocal is a batch's, not a pre-warm's.
  const pool = await openPool(
    { ...config, withLocal: false },
    {
      initialWindow: () => 1,
      onPhase: (label, phase) =>
        spinner && (spinner.text = `starting ${config.backends} ${config.provider} backends… ${label}: ${phase}`),
      onEvent: (event) => void (event.kind === "ready" && ready.set(event.label, event.result)),
    },
    { warn: printWarning },
  );
  try {
    // Rejects only when every member failed; then that is the command's error.
    await pool.start(new AbortController().signal);
    const members = await pool.settled();
    spinner?.stop();
    const serving = members.filter((m) => m.state === "ready").length;
    const rows = members.map((member) => {
      const result = ready.get(member.label);
      if (member.state === "ready" && result) {
        warnDrift(result.record, result.drift, "up");
        return {
          backend: member.label,
          name: result.record.name,
          state: "ready",
          endpoint: result.record.endpoint,
          created: result.created,
          readyMs: Math.round(result.readyMs),
        };
      }
      return {
        backend: member.label,
        state: member.state,
        ...(member.error ? { error: { code: member.error.code, message: member.error.message } } : {}),
      };
    });
    if (json) {
      printJson({ provider: config.provider, name: config.name, requested: config.backends, serving, members: rows });
      return 0;
    }
    for (const row of rows) {
      const result = ready.get(row.backend);
      if (result) {
        const how = result.created
          ? `started in ${formatDuration(result.readyMs)}`
          : `already running (checked in ${formatDuration(result.readyMs)})`;
        process.stdout.write(
          `${row.backend}: ${result.record.provider} ` +
            `backend "${result.record.name}" at ${result.record.endpoint}: ${how}\n`,
        );
      } else if ("error" in row && row.error) {
        process.stdout.write(`${row.backend}: could not start (${row.error.code}): ${row.error.message}\n`);
      }
    }
    process.stdout.write(
      `${serving} of ${config.backends} ` +
        `backends serving${serving < config.backends ? " (each is billed; `aciimg down` removes all)" : ""}\n`,
    );
    return 0;
  } catch (error) {
    spinner?.fail();
    throw error;
  } finally {
    await pool.close();
  }
}
