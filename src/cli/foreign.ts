/** How `status`, `reap --verbose` and `down` name a backend this state does not own. */
import type { ForeignBackend } from "../engine/types.js";

/** `aci backend "default" (/subscriptions/…/aciimg-default): not ours, owner 3f2a…` */
export function describeOther(other: ForeignBackend): string {
  const whose =
    other.reason === "no-owner"
      ? "not ours: it has no owner id (made by an aciimg before owner ids)"
      : `not ours: it belongs to another aciimg state (owner ${other.owner?.slice(0, 8) ?? "?"}…)`;
  return `${other.provider} backend "${other.name}" (${other.id}): ${whose}`;
}
