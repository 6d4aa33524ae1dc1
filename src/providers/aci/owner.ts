/**
 * Whose a container group is (pure): create replaces (never uses) a same-named group only when it
 * carries our owner id (the tag is a claim anyone who can write groups can make, so it allows a
 * delete, never trust). Any other group with our name is left as it is, and create stops
 * with a message naming the group and the way out.
 */
import type { ContainerGroup } from "@azure/arm-containerinstance";
import { AciimgError } from "../../errors.js";
import { MANAGED_BY, TAG_MANAGED_BY, TAG_OWNER } from "./spec.js";

/** The E_CONFLICT to stop a create with when `group` (named `groupName`) is not ours; undefined when it is. */
export function conflictWith(
  group: ContainerGroup,
  where: { resourceGroup: string; groupName: string; backendName: string },
  owner: string,
): AciimgError | undefined {
  const tags = group.tags ?? {};
  const theirs = tags[TAG_OWNER];
  if (tags[TAG_MANAGED_BY] === MANAGED_BY && theirs === owner) return undefined;
  const subject = `container group ${where.groupName} in resource group ${where.resourceGroup}`;
  const rename = "Use --name to give this state a backend of its own";
  const remove = `or, if nobody uses that group, delete it with \`aciimg down --name ${where.backendName} --force\``;
  const detail = { group: where.groupName, resourceGroup: where.resourceGroup, ...(theirs ? { owner: theirs } : {}) };
  if (tags[TAG_MANAGED_BY] !== MANAGED_BY) {
    return new AciimgError("E_CONFLICT", `${subject} was not made by aciimg: it was left as it is. ${rename}.`, {
      detail,
    });
  }
  const whose = theirs
    ? `belongs to another aciimg state (owner ${theirs.slice(0, 8)}…)`
    : "was made by an aciimg without owner ids (an older version), so it may be someone else's";
  return new AciimgError("E_CONFLICT", `${subject} ${whose}: it was left as it is. ${rename}, ${remove}.`, { detail });
}
