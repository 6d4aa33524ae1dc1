/**
 * aciimg's extension to imaginary's answers, sent by the built-in backend alone: what became of
 * an animated input's frames. imaginary keeps the first frame of any animation and says nothing
 * (docs/reference/imaginary-api.md §4); the built-in backend keeps them all where it can (src/backend/plan.ts).
 */
import { isAnimated } from "./animation.js";

/** On an answer that kept an animation: its frame count. */
export const framesHeader = "x-aciimg-frames";

/** On an answer that kept only the first frame of several: `<frames>; <why>`, e.g. `12; PNG cannot animate`. */
export const flattenedHeader = "x-aciimg-flattened";

/** A flattened header in words ("only the first of 12 frames was kept: PNG cannot animate"); undefined if malformed. */
export function flattenedWarning(value: string | undefined): string | undefined {
  const match = value === undefined ? null : /^(\d+); (.+)$/.exec(value);
  return match ? `only the first of ${match[1]} frames was kept: ${match[2]}` : undefined;
}

/** How the `Server` of the built-in backend's answers begins; imaginary's is `imaginary <ver> (bimg <ver>)` (§1.7). */
export const builtInServer = "aciimg-backend";

/** What `process` says of an animated input flattened by a backend that sends neither header: imaginary. */
export const silentlyFlattenedWarning = "only the first frame was kept: imaginary does not keep animations";

/**
 * What an answer's headers say became of the input's frames, in words, or undefined when nothing
 * was lost. The built-in backend says when it flattens an animation; imaginary keeps one frame and
 * says nothing: then `head` (the input's first bytes, asked for only then) tells whether the input
 * was one (animation.ts).
 */
export function framesWarning(headers: Record<string, string>, head: () => Uint8Array): string | undefined {
  if (headers[flattenedHeader] !== undefined) return flattenedWarning(headers[flattenedHeader]);
  // Checked from the first bytes alone, a large still GIF could pass for an animation.
  const isBuiltIn = headers[framesHeader] !== undefined || headers.server?.startsWith(builtInServer) === true;
  return !isBuiltIn && isAnimated(head()) ? silentlyFlattenedWarning : undefined;
}
