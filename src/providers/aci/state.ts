/**
 * Reading ARM's answers (pure): which backend state a container group is in, its last events,
 * and where a group id points. provisioningState is the last operation; instanceView.state is the
 * runtime state; both matter (docs/reference/arm-notes.md §1.3, §6).
 */
import type { ContainerGroup } from "@azure/arm-containerinstance";
import type { LiveState } from "../../engine/types.js";
import { IMAGINARY_PORT } from "./spec.js";

/** `/subscriptions/s/resourceGroups/rg/providers/…/containerGroups/name` → rg, name. */
export function parseGroupId(id: string): { resourceGroup: string; name: string } | undefined {
  const match = /\/resourcegroups\/([^/]+)\/providers\/microsoft\.containerinstance\/containergroups\/([^/?]+)$/i.exec(
    id,
  );
  return match
    ? { resourceGroup: decodeURIComponent(match[1] as string), name: decodeURIComponent(match[2] as string) }
    : undefined;
}

/** The HTTP status of an SDK RestError (matched by name: duplicate package copies break instanceof). */
export function statusOf(error: unknown): number | undefined {
  return error instanceof Error && error.name === "RestError"
    ? (error as Error & { statusCode?: number }).statusCode
    : undefined;
}

/** The container's newest events as "Name: message", for failure messages. */
export function lastEvents(group: ContainerGroup | undefined, count = 3): string[] {
  const events = group?.containers[0]?.instanceView?.events ?? [];
  return events.slice(-count).map((e) => `${e.name ?? e.type ?? "event"}: ${e.message ?? ""}`.trim());
}

/** The group's liveness as the engine sees it. */
export function liveStateOf(group: ContainerGroup): LiveState {
  const provisioning = group.provisioningState ?? "";
  const runtime = group.instanceView?.state ?? "";
  const container = group.containers[0]?.instanceView?.currentState?.state ?? "";
  const ip = group.ipAddress?.ip ?? group.ipAddress?.fqdn;
  if (provisioning === "Failed") {
    return { state: "failed", detail: `provisioning Failed; ${lastEvents(group).join("; ") || "no events"}` };
  }
  if (provisioning === "Succeeded" && runtime === "Running" && container === "Running" && ip) {
    // HTTPS only: every group serves TLS with its own pinned certificate (spec.ts).
    return { state: "running", endpoint: `https://${ip}:${IMAGINARY_PORT}` };
  }
  if (runtime === "Stopped" || runtime === "Failed" || container === "Terminated") {
    return { state: "failed", detail: `group ${runtime || provisioning}, container ${container || "unknown"}` };
  }
  return { state: "provisioning", detail: [provisioning, runtime, container].filter(Boolean).join(", ") };
}
