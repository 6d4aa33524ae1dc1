/**
 * How a failed create reads: what was made is deleted, and the message says how far it got
 * (docs/reference/arm-notes.md §2, §6).
 */
import type { ContainerGroup } from "@azure/arm-containerinstance";
import { AciimgError } from "../../errors.js";
import { formatDuration } from "../../units.js";
import type { ArmAccess } from "./arm.js";
import { mapAzureError, type AzureErrorContext } from "./errors.js";
import { IMAGINARY_PORT } from "./spec.js";
import { lastEvents } from "./state.js";

/**
 * The error a failed create ends with: the half-made group looked up and deleted (a PUT refused
 * outright made nothing), its last log lines when it got as far as running, and a timeout worded
 * by how far it got.
 */
export async function createFailure(
  error: unknown,
  access: ArmAccess,
  cleanup: (resourceGroup: string, name: string) => Promise<string>,
  how: {
    resourceGroup: string;
    name: string;
    action: string;
    ctx: AzureErrorContext;
    putSent: boolean;
    probing: string;
    lastState: string;
    timedOut: boolean;
  },
): Promise<Error> {
  const { azure, getGroup, tailLogs } = access;
  const { resourceGroup, name, action, ctx, putSent, probing, lastState, timedOut } = how;
  // Look before cleaning up: a PUT refused outright (quota, capacity, …) created nothing.
  const look = AbortSignal.timeout(30_000);
  let group: ContainerGroup | undefined;
  let exists = false;
  if (putSent) {
    try {
      group = await getGroup(resourceGroup, name, action, look);
      exists = group !== undefined;
    } catch {
      exists = true; // unknown: try to delete anyway
    }
  }
  const logTail = probing && exists ? await tailLogs(resourceGroup, name, look) : "";
  const cleaned = exists ? ` ${await cleanup(resourceGroup, name)}` : "";
  if (timedOut) {
    const limit = formatDuration(azure.createTimeoutMs);
    return new AciimgError(
      "E_TIMEOUT",
      probing
        ? `${action}: the container started, ` +
            `but imaginary at ${probing} did not answer GET /health within ${limit} (--timeout).` +
            `${logTail ? ` Its last log lines: ${logTail}` : ""}${cleaned} Check ` +
            `that --image serves imaginary on port ${IMAGINARY_PORT} and reads its key from IMAGINARY_SECRET.`
        : `${action}: still ${lastState} after ${limit} (--timeout).${cleaned} ` +
            `ACI may be short of capacity in ${ctx.location}: retry, raise --timeout, or try another --location.`,
      { cause: error, detail: { lastState } },
    );
  }
  const mapped = mapAzureError(error, { ...ctx, events: lastEvents(group) });
  if (logTail) mapped.message += ` Its last log lines: ${logTail}`;
  mapped.message += cleaned;
  return mapped;
}
