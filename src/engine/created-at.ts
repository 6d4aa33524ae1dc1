/**
 * How far a listed backend's creation time is believed. On aci it is the
 * `aciimg-created` tag, which anyone who can write the group can set, so it is a claim: it only
 * decides whether an unrecorded group of ours may still be a create in progress (reap keeps it)
 * and what reports show, and only within these bounds:
 * - at most `createdSkewMs` (5 min) ahead of our clock, the disagreement two machines' clocks may
 *   have: a date further ahead would keep a group "still provisioning" forever;
 * - not before `earliestCreated` (2025-01-01): no aciimg made a backend earlier.
 * Outside them, as without a date, the time is unknown, and an unknown time is never "young".
 */

/** How far ahead of our clock a creation time may be and still be believed. */
export const createdSkewMs = 5 * 60_000;
/** No aciimg backend was made before this. */
export const earliestCreated = Date.parse("2025-01-01T00:00:00.000Z");

/** `createdAt` in ms when it is a date within the bounds above, seen at `now`; otherwise undefined. */
export function believedCreatedAt(createdAt: string | undefined, now: number): number | undefined {
  const ms = createdAt === undefined ? Number.NaN : Date.parse(createdAt);
  return Number.isFinite(ms) && ms >= earliestCreated && ms <= now + createdSkewMs ? ms : undefined;
}
