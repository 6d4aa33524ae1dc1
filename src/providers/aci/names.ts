/**
 * The names ARM sees for a backend (pure). ARM's rules (Azure "resource-name-rules" for
 * Microsoft.ContainerInstance; docs/reference/arm-notes.md §1.2; the DNS label's from ACI's own refusal, quoted in
 * test/arm-sim/groups.ts):
 * - a container group: 1–63 of [a-z0-9-], no '-' first or last, no "--";
 * - a DNS name label: 5–63 of [a-z0-9-], a letter first, a letter or digit last.
 *
 * A backend's group is `aciimg-<name>`. A pool member's state key is `<name>--<i>`
 * (engine/pool-names.ts), which ARM refuses in a group name, so member i > 1 is `aciimg<i>-<name>`:
 * no name a person picks can give it, since theirs always starts `aciimg-`. Listing names a group
 * by reading its name back (`stateKeyOfGroup`): a name is what ARM deletes, while its tags
 * (spec.ts) are claims anyone who can write groups can make.
 */
import { stateKeyParts } from "../../config.js";

/** ARM's rule for a container group's name. */
export const groupNamePattern = /^(?!-)(?!.*-$)(?!.*--)[a-z0-9-]{1,63}$/;
/** ARM's rule for a group's DNS name label. */
export const dnsLabelPattern = /^[a-z][a-z0-9-]{3,61}[a-z0-9]$/;

/**
 * The container group of the backend with state key `stateKey`: `aciimg-<name>`, or
 * `aciimg<i>-<name>` for pool member i > 1. Deterministic, so a lost state can find it again
 * (DESIGN.md §1). A pool's local member is never a group.
 */
export function groupNameOf(stateKey: string): string {
  const parts = stateKeyParts(stateKey);
  if (!parts || parts.member === "local") throw new Error(`"${stateKey}" is not the name of an ACI backend`);
  const member = parts.member === undefined || parts.member === 1 ? "" : String(parts.member);
  return `aciimg${member}-${parts.name}`;
}

/**
 * The state key whose group is `groupName` (the inverse of `groupNameOf`), or undefined when no
 * state key gives that name: `aciimg-default` → `default`, `aciimg2-default` → `default--2`.
 */
export function stateKeyOfGroup(groupName: string): string | undefined {
  const match = /^aciimg([0-9]*)-(.+)$/.exec(groupName);
  if (!match) return undefined;
  const key = match[1] ? `${match[2]}--${match[1]}` : (match[2] as string);
  const parts = stateKeyParts(key);
  if (!parts || parts.member === "local") return undefined;
  // `aciimg1-x` and `aciimg02-x` parse but are not what groupNameOf makes: not ours.
  return groupNameOf(key) === groupName ? key : undefined;
}

/**
 * A DNS label unique per group: ACI's default `Unsecure` scope needs the label free region-wide
 * (docs/reference/arm-notes.md §6). The group's name (a letter first) and up to 12 of the suffix's [a-z0-9].
 */
export function dnsLabelOf(stateKey: string, uniqueSuffix: string): string {
  const suffix =
    uniqueSuffix
      .toLowerCase()
      .replace(/[^a-z0-9]/g, "")
      .slice(0, 12) || "x0000";
  return `${groupNameOf(stateKey)}-${suffix}`;
}
