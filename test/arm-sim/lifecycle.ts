/**
 * How a simulated container group moves through provisioning, one operation poll at a time
 * (docs/reference/arm-notes.md "Determinism for tests": count polls, not wall time): Pending for `pendingPolls`,
 * then Creating while the image is pulled (`startDelayMs`, wall-clock: it stands for a real pull)
 * and the container (a real backend process) starts, then Succeeded with the
 * Pulling/Pulled/Created/Started events real ACI shows — or Failed with the planned error.
 */
import { randomInt } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import type { ContainerLauncher } from "./containers.js";
import { event, type SimGroup } from "./groups.js";

export interface Operation {
  id: string;
  groupId: string;
  kind: "create" | "delete";
  polls: number;
  creatingPolls: number;
  startTime: string;
  status: "Pending" | "Creating" | "Succeeded" | "Failed";
  error?: { code: string; message: string };
  launch?: Promise<void>;
  launched: boolean;
}

export interface LifecycleDeps {
  /** The live groups by lower-case id. */
  groups: Map<string, SimGroup>;
  launcher: ContainerLauncher;
  /** Fires when the simulator closes: launches in flight stop. */
  signal: AbortSignal;
}

export function createLifecycle({ groups, launcher, signal }: LifecycleDeps): { advance(op: Operation): void } {
  const isCurrent = (g: SimGroup) => groups.get(g.id.toLowerCase()) === g;

  /**
   * Pulls (the planned wall-clock delay), then launches; stops early when the group is deleted or the simulator closes.
   */
  async function startContainer(g: SimGroup, op: Operation): Promise<void> {
    const stop = AbortSignal.any([signal, g.removed.signal]);
    try {
      if (g.plan.startDelayMs > 0) await delay(g.plan.startDelayMs, undefined, { signal: stop });
      if (g.plan.pullGate) await untilOpen(g.plan.pullGate, stop);
      if (g.plan.unhealthyBackend) {
        // Nothing listens at this address: the backend never becomes healthy.
        g.ip = `127.${randomInt(1, 255)}.${randomInt(1, 255)}.254`;
        op.launched = true;
        return;
      }
      const container = await launcher(
        { image: g.image, command: g.command, env: g.env, port: g.ports[0]?.port ?? 80 },
        stop,
      );
      if (!isCurrent(g)) return await container.stop(); // deleted (or replaced) meanwhile
      g.container = container;
      g.ip = container.ip;
      op.launched = true;
    } catch (error) {
      if (stop.aborted || !isCurrent(g)) return;
      op.status = "Failed";
      op.error = {
        code: "ContainerGroupFailed",
        message: `The container failed to start: ${String(error).slice(0, 500)}`,
      };
      g.provisioningState = "Failed";
      g.containerState = "Waiting";
      g.events.push(event("Failed", "container exited during start-up", "Warning"));
    }
  }

  function advance(op: Operation): void {
    const g = groups.get(op.groupId.toLowerCase());
    if (!g || op.kind === "delete") {
      op.status = "Succeeded";
      return;
    }
    if (op.status === "Succeeded" || op.status === "Failed") return;
    op.polls += 1;
    if (g.plan.stuckPending || op.polls <= g.plan.pendingPolls) return;
    if (op.status === "Pending") {
      const failure = g.plan.provisionFailure;
      if (failure) {
        op.status = "Failed";
        op.error = { code: failure.code, message: failure.message };
        g.provisioningState = "Failed";
        g.containerState = "Waiting";
        g.events = (failure.events ?? []).map((e) => event(e.name, e.message, e.type ?? "Warning"));
        return;
      }
      op.status = "Creating";
      g.provisioningState = "Creating";
      g.containerState = "Waiting";
      g.events.push(event("Pulling", `pulling image "${g.image}"`));
      op.launch = g.starting = startContainer(g, op);
      return;
    }
    op.creatingPolls += 1;
    if (op.launched && op.creatingPolls >= g.plan.creatingPolls) {
      g.events.push(
        event("Pulled", `Successfully pulled image "${g.image}"`),
        event("Created", `Created container ${g.containerName}`),
        event("Started", `Started container ${g.containerName}`),
      );
      g.provisioningState = "Succeeded";
      g.runtimeState = "Running";
      g.containerState = "Running";
      g.containerStartTime = new Date().toISOString();
      op.status = "Succeeded";
    }
  }

  return { advance };
}

/** Waits for `gate`, or rejects when `stop` fires first (the group was deleted, the simulator closed). */
function untilOpen(gate: Promise<void>, stop: AbortSignal): Promise<void> {
  if (stop.aborted) return Promise.reject(stop.reason);
  return new Promise<void>((resolve, reject) => {
    const onStop = (): void => reject(stop.reason);
    stop.addEventListener("abort", onStop, { once: true });
    gate.then(
      () => {
        stop.removeEventListener("abort", onStop);
        resolve();
      },
      (error: unknown) => {
        stop.removeEventListener("abort", onStop);
        reject(error);
      },
    );
  });
}
