/**
 * The names of a pool's members (docs/cli.md "A pool of backends"). Member 1 keeps the pool's own name, so a
 * pool of one is exactly the single backend of before (same state key, same container group);
 * member i > 1 is `<name>--<i>`, which no name a person picks can be (config.ts forbids `--`).
 * Each member is a backend of its own: its state record, its single-flight claim, its lastUsed.
 */

/** The state key (and provider name) of member `index` (1-based) of the pool `name`. */
export function memberName(name: string, index: number): string {
  return index === 1 ? name : `${name}--${index}`;
}

/** The member index of `candidate` in the pool `name`, or undefined when it is not one of its members. */
export function memberIndex(name: string, candidate: string): number | undefined {
  if (candidate === name) return 1;
  if (!candidate.startsWith(`${name}--`)) return undefined;
  const rest = candidate.slice(name.length + 2);
  if (!/^[1-9][0-9]*$/.test(rest)) return undefined;
  const index = Number(rest);
  return index >= 2 ? index : undefined;
}

/** The pool a state key belongs to: `default` for `default`, `default--2` and `default--local`. */
export function poolOf(key: string): string {
  const at = key.indexOf("--");
  return at < 0 ? key : key.slice(0, at);
}

/** The state key of a pool's local member (`process --with-local`). */
export function localMemberName(name: string): string {
  return `${name}--local`;
}

/** How a member is named in reports and `--json` lines: `aci-1`…`aci-N`, `local-1` on the local provider. */
export function memberLabel(kind: string, index: number): string {
  return `${kind}-${index}`;
}
