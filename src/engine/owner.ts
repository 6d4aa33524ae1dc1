/**
 * Owner ids: each state has a random, persistent owner id, and
 * every backend it makes carries it. Reaping, replacing and `down` touch only backends with our id,
 * so two states sharing a resource group (two people, two CI pipelines) never delete each other's.
 * The id on a backend is a claim its writer can copy: it allows a delete, never trust.
 */
import { randomBytes } from "node:crypto";
import type { BackendRef, ForeignBackend, Ownership, State } from "./types.js";

/** 16 random bytes, hex: unguessable enough never to collide, and a valid ARM tag value. */
export function newOwnerId(): string {
  return randomBytes(16).toString("hex");
}

/** The state's owner id, made now if it has none (call inside `StateStore.update`, so it is kept). */
export function ownerOf(state: State): string {
  state.owner ??= newOwnerId();
  return state.owner;
}

/** Whose `ref` is, seen from a state with owner id `owner` (none yet: nothing listed is ours). */
export function ownershipOf(ref: BackendRef, owner: string | undefined): Ownership {
  if (ref.owner === undefined) return "no-owner";
  return owner !== undefined && ref.owner === owner ? "ours" : "not-ours";
}

/** `ref` as reported among the backends that are not ours. */
export function foreignOf(ref: BackendRef, ownership: Exclude<Ownership, "ours">): ForeignBackend {
  return {
    provider: ref.provider,
    id: ref.id,
    name: ref.name,
    ...(ref.createdAt ? { createdAt: ref.createdAt } : {}),
    ...(ref.owner ? { owner: ref.owner } : {}),
    reason: ownership,
  };
}
