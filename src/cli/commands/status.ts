/**
 * `aciimg status`: provider, live state, endpoint, idle time and time until the backend stops
 * itself or is reaped, and what to do next when none serves. The key only with --show-key.
 */
import type { Command } from "commander";
import type { MemberStatus, StatusReport } from "../../engine/types.js";
import { formatDuration } from "../../units.js";
import { configOf, printJson, withEngine, type GlobalOptions } from "../context.js";
import { describeOther } from "../foreign.js";

/**
 * What to do next when no backend serves: none yet (or it stopped itself when idle), or one that
 * is gone or failed, which has no idle time to count down and is replaced on next use.
 */
function nextStep(state: StatusReport["state"]): string | undefined {
  if (state === "none") return "no backend running; aciimg up starts one, aciimg process starts one on demand";
  if (state === "gone")
    return (
      "the backend is gone; the next " +
      "aciimg process or aciimg up starts a new one (aciimg down clears this record now)"
    );
  if (state === "failed")
    return "the next aciimg process or aciimg up replaces this backend (aciimg down deletes it now)";
  return undefined;
}

/** When the idle backend goes: it stops itself (local, state file), or the next reap deletes it. */
function countdown(inMs: number, idleMs: number, stopsItself: boolean): string {
  const limit = `idle limit ${formatDuration(idleMs)}`;
  const left = (due: string): string => (inMs === 0 ? due : formatDuration(inMs));
  if (stopsItself) return `stops in:  ${left("due now")} (${limit}; the backend stops itself)`;
  return `reaped in: ${left("due now (next aciimg reap)")} (${limit})`;
}

function memberLine(member: MemberStatus): string {
  const idle = member.idleMs === undefined ? "" : `, idle ${formatDuration(member.idleMs)}`;
  const at = member.endpoint ? ` at ${member.endpoint}` : "";
  const detail = member.detail ? ` (${member.detail})` : "";
  return `${member.backend} "${member.name}" ${member.state}${at}${idle}${detail}`;
}

export async function runStatus(options: { showKey?: boolean }, command: Command): Promise<number> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const config = configOf(globals);
  const { stopsItselfWhenIdle } = await import("../../compose.js");
  return withEngine(config, async (engine) => {
    const report = await engine.status({ showKey: options.showKey === true });
    // The engine only adds the key when asked; drop it here too so no path can leak it.
    const shown = options.showKey
      ? report
      : { ...report, apiKey: undefined, members: report.members.map((member) => ({ ...member, apiKey: undefined })) };
    const next = nextStep(shown.state);
    if (globals.json) {
      printJson(next ? { ...shown, next } : shown);
      return 0;
    }
    const lines = [
      `provider:  ${shown.provider}`,
      `name:      ${shown.name}`,
      `state:     ${shown.state}${shown.detail ? ` (${shown.detail})` : ""}`,
    ];
    if (shown.endpoint) lines.push(`endpoint:  ${shown.endpoint}`);
    if (shown.idleMs !== undefined) lines.push(`idle:      ${formatDuration(shown.idleMs)}`);
    if (shown.reapInMs !== undefined) lines.push(countdown(shown.reapInMs, config.idleMs, stopsItselfWhenIdle(config)));
    if (next) lines.push(`next:      ${next}`);
    if (shown.apiKey) lines.push(`key:       ${shown.apiKey}`);
    // A pool (`--backends`): every member on a line of its own; the first is the one above.
    if (shown.members.length > 1) for (const member of shown.members) lines.push(`member:    ${memberLine(member)}`);
    for (const other of shown.others) lines.push(`other:     ${describeOther(other)}`);
    process.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  });
}
