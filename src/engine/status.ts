/**
 * `status`: what the state records, what the provider says about it now, and the backends that
 * are not ours; for a pool (engine/pool-names.ts), the same for every member.
 */
import { isProvisionerDead } from "./ensure.js";
import { foreignOf, ownershipOf } from "./owner.js";
import { memberIndex, memberLabel, memberName } from "./pool-names.js";
import type { BackendSpec, Clock, ForeignBackend, MemberStatus, Provider, State, StatusReport } from "./types.js";

export interface StatusContext {
  provider: Provider;
  spec: BackendSpec;
  clock: Clock;
  host: string;
  staleProvisionerMs: number;
  /** Idle limit the time-to-reap is reported against. */
  idleLimitMs: number;
}

/** What the provider lists that this state does not own (its own recorded backends excepted, owner tag or not). */
export async function othersIn(provider: Provider, state: State, signal?: AbortSignal): Promise<ForeignBackend[]> {
  const known = new Set(Object.values(state.backends).map((record) => record.id));
  const others: ForeignBackend[] = [];
  for (const ref of await provider.list(signal)) {
    const ownership = ownershipOf(ref, state.owner);
    if (ownership !== "ours" && !known.has(ref.id)) others.push(foreignOf(ref, ownership));
  }
  return others;
}

/**
 * The status report for the backend `state` records under the spec's name, with `members`: that
 * one and every other member of its pool the state records, in order (aci-1, aci-2, …).
 */
export async function statusOf(
  context: StatusContext,
  state: State,
  options: { showKey?: boolean; signal?: AbortSignal },
): Promise<StatusReport> {
  const { provider, spec } = context;
  const listing = othersIn(provider, state, options.signal);
  // Settled here too: a failed inspect must not leave the listing's rejection unhandled.
  listing.catch(() => undefined);
  const indexes = Object.keys(state.backends)
    .map((key) => memberIndex(spec.name, key))
    .filter((index): index is number => index !== undefined && index > 1)
    .sort((a, b) => a - b);
  const [first, ...rest] = await Promise.all(
    [1, ...indexes].map((index) => memberStatus(context, state, index, options)),
  );
  const main = first as MemberStatus;
  const members = [main, ...rest].filter((member) => member.state !== "none");
  const { backend: _label, ...report } = main;
  return { ...report, members, others: await listing };
}

/** One member's report: what the state records under its name and what the provider says now. */
async function memberStatus(
  context: StatusContext,
  state: State,
  index: number,
  options: { showKey?: boolean; signal?: AbortSignal },
): Promise<MemberStatus> {
  const { provider, clock } = context;
  const name = memberName(context.spec.name, index);
  const record = state.backends[name];
  const base = { backend: memberLabel(provider.kind, index), provider: provider.kind, name };
  if (!record || record.provider !== provider.kind) return { ...base, state: "none" };
  const common = {
    ...base,
    createdAt: record.createdAt,
    ...(options.showKey ? { apiKey: record.apiKey } : {}),
  };
  if (record.status === "provisioning") {
    const who = record.provisioner
      ? `pid ${record.provisioner.pid} on ${record.provisioner.host}`
      : "an unknown process";
    return isProvisionerDead(record, context)
      ? {
          ...common,
          state: "failed",
          detail: `provisioning by ${who} was abandoned; the next command starts a new backend`,
        }
      : { ...common, state: "provisioning", detail: `being provisioned by ${who}` };
  }
  const live = await provider.inspect(record, options.signal);
  const idleMs = Math.max(0, clock.now() - Date.parse(record.lastUsed));
  // Idle time and a reap countdown describe a backend that exists. A gone or failed one is
  // replaced by the next ensure(), whatever its idle time, so a countdown would mislead.
  const exists = live.state === "running" || live.state === "provisioning";
  return {
    ...common,
    state: live.state,
    endpoint: live.state === "running" ? live.endpoint : record.endpoint,
    lastUsed: record.lastUsed,
    ...(exists ? { idleMs, reapInMs: Math.max(0, context.idleLimitMs - idleMs) } : {}),
    ...(live.state === "failed"
      ? { detail: live.detail }
      : live.state === "provisioning" && live.detail
        ? { detail: live.detail }
        : {}),
  };
}
