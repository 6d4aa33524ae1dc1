/** `aciimg status`: provider, live state, endpoint, idle time and time until reap. The key only with --show-key. */
import type { Command } from "commander";
import type { MemberStatus, StatusReport } from "../../engine/types.js";
import { formatDuration } from "../../units.js";
import { configOf, printJson, withEngine, type GlobalOptions } from "../context.js";
import { describeOther } from "./others.js";

/** What happens to a backend that no longer serves: it has no idle time to count down, it is replaced on next use. */
function nextStep(state: StatusReport["state"]): string | undefined {
  if (state === "gone") return "the backend is gone; the next aciimg process or aciimg up starts a new one (aciimg down clears this record now)";
  if (state === "failed") return "the next aciimg process or aciimg up replaces this backend (aciimg down deletes it now)";
  return undefined;
}

function memberLine(member: MemberStatus): string {
  const idle = member.idleMs === undefined ? "" : `, idle ${formatDuration(member.idleMs)}`;
  return `${member.backend} "${member.name}" ${member.state}${member.endpoint ? ` at ${member.endpoint}` : ""}${idle}${member.detail ? ` (${member.detail})` : ""}`;
}

export async function runStatus(options: { showKey?: boolean }, command: Command): Promise<number> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const config = configOf(globals);
  return withEngine(config, async (engine) => {
    const report = await engine.status({ showKey: options.showKey === true });
    // The engine only adds the key when asked; drop it here too so no path can leak it.
    const shown = options.showKey ? report : { ...report, apiKey: undefined, members: report.members.map((member) => ({ ...member, apiKey: undefined })) };
    if (globals.json) {
      printJson(shown);
      return 0;
    }
    const lines = [`provider:  ${shown.provider}`, `name:      ${shown.name}`, `state:     ${shown.state}${shown.detail ? ` (${shown.detail})` : ""}`];
    if (shown.endpoint) lines.push(`endpoint:  ${shown.endpoint}`);
    if (shown.idleMs !== undefined) lines.push(`idle:      ${formatDuration(shown.idleMs)}`);
    if (shown.reapInMs !== undefined) lines.push(`reaped in: ${shown.reapInMs === 0 ? "due now (next aciimg reap)" : formatDuration(shown.reapInMs)} (idle limit ${formatDuration(config.idleMs)})`);
    const next = nextStep(shown.state);
    if (next) lines.push(`next:      ${next}`);
    if (shown.apiKey) lines.push(`key:       ${shown.apiKey}`);
    // A pool (`--backends`): every member on a line of its own; the first is the one above.
    if (shown.members.length > 1) for (const member of shown.members) lines.push(`member:    ${memberLine(member)}`);
    for (const other of shown.others) lines.push(`other:     ${describeOther(other)}`);
    process.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  });
}
