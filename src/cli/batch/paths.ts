/**
 * Path arithmetic done once per file of a batch, where node:path's general forms cost most of a
 * large run's allocations: path.relative resolves both its arguments on every call, path.join
 * normalises. These take the common case (a normalised absolute path below a folder, a name from
 * readdir) by slicing and concatenating, and hand anything else to node:path.
 */
import { join, relative, sep } from "node:path";

/** `path` relative to `root` (both absolute, as path.resolve or path.join made them): path.relative's answer. */
export function below(root: string, path: string): string {
  const prefixLength = root.endsWith(sep) ? root.length : root.length + 1;
  if (path.length > prefixLength && path.startsWith(root) && path[prefixLength - 1] === sep) {
    const rest = path.slice(prefixLength);
    if (isPlain(rest)) return rest;
  }
  return relative(root, path);
}

/** `folder`/`rest` (`folder` absolute and normalised, as path.resolve made it): path.join's answer. */
export function under(folder: string, rest: string): string {
  if (rest === "" || rest.startsWith(sep) || !isPlain(rest)) return join(folder, rest);
  return folder.endsWith(sep) ? folder + rest : `${folder}${sep}${rest}`;
}

/** Whether a relative path has nothing path.normalize would change: no empty, . or .. part. */
function isPlain(rest: string): boolean {
  return !(
    rest.endsWith(sep) ||
    rest === "." ||
    rest === ".." ||
    rest.startsWith(dotPrefix) ||
    rest.startsWith(dotDotPrefix) ||
    odd.some((part) => rest.includes(part)) ||
    rest.endsWith(dotSuffix) ||
    rest.endsWith(dotDotSuffix)
  );
}

// Made once: isPlain runs for every input and output of a batch.
const dotPrefix = `.${sep}`;
const dotDotPrefix = `..${sep}`;
const dotSuffix = `${sep}.`;
const dotDotSuffix = `${sep}..`;
const odd = [`${sep}${sep}`, `${sep}.${sep}`, `${sep}..${sep}`];
