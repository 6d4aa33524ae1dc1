/**
 * A file system that takes no more writes: full (ENOSPC), over quota (EDQUOT) or read-only
 * (EROFS). Every later output of a batch would fail the same way, so the batch stops at the
 * first (docs/cli.md "aciimg process"), as E_DISK.
 */
import { AciimgError } from "../../errors.js";

const causes = {
  ENOSPC: { title: "disk full", words: "no space left on device", advice: "free some space" },
  EDQUOT: { title: "disk quota exceeded", words: "disk quota exceeded", advice: "free some of your quota" },
  EROFS: { title: "read-only file system", words: "read-only file system", advice: "make it writable" },
} as const;

/** The errno of a file system that takes no more writes. */
export type DiskErrno = keyof typeof causes;

/** The errno when `error` says the file system takes no more writes, else undefined. */
export function diskErrnoOf(error: unknown): DiskErrno | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && Object.hasOwn(causes, code) ? (code as DiskErrno) : undefined;
}

/** "disk full (ENOSPC)": what stopped a batch, as its summary says. */
export function diskTitle(errno: DiskErrno): string {
  return `${causes[errno].title} (${errno})`;
}

/** What to do about it: "free some space". */
export function diskAdvice(errno: DiskErrno): string {
  return causes[errno].advice;
}

/** The errno an E_DISK message (made by diskError) names, such as a batch's failed line carries. */
export function diskErrnoOfMessage(message: string): DiskErrno | undefined {
  return diskErrnoOf({ code: /\((\w+)\)$/.exec(message)?.[1] });
}

/** E_DISK for `error` when it is one, as "`doing`: no space left on device (ENOSPC)"; else undefined. */
export function diskError(doing: string, error: unknown): AciimgError | undefined {
  const errno = diskErrnoOf(error);
  if (errno === undefined) return undefined;
  const message = `${doing}: ${causes[errno].words} (${errno})`;
  return new AciimgError("E_DISK", message, { cause: error, detail: { errno } });
}
