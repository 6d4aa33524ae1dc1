/**
 * aciimg's extension to imaginary's answers, sent by the built-in backend alone: what became of
 * an animated input's frames. imaginary keeps the first frame of any animation and says nothing
 * (docs/reference/imaginary-api.md §4); the built-in backend keeps them all where it can (src/backend/plan.ts).
 */

/** On an answer that kept an animation: its frame count. */
export const framesHeader = "x-aciimg-frames";

/** On an answer that kept only the first frame of several: `<frames>; <why>`, e.g. `12; PNG cannot animate`. */
export const flattenedHeader = "x-aciimg-flattened";

/** A flattened header in words ("only the first of 12 frames was kept: PNG cannot animate"); undefined if malformed. */
export function flattenedWarning(value: string | undefined): string | undefined {
  const match = value === undefined ? null : /^(\d+); (.+)$/.exec(value);
  return match ? `only the first of ${match[1]} frames was kept: ${match[2]}` : undefined;
}
