/**
 * aciimg's extension to imaginary's file source (docs/reference/imaginary-api.md §1.2), read by the built-in
 * backend alone: a `GET /<op>?file=` may carry the device and inode the client checked the file to
 * be. The backend then opens the file without following a final symbolic link and reads it only
 * when it is that inode, and says so by sending the header back with its answer. Without it, a
 * file in a folder another user can write could be replaced by a link to a private file between
 * the client's check and the backend's read. imaginary ignores unknown headers, and
 * aciimg never sends it a `file=`: only a local provider's record has a `fileRoot`.
 */

/** The header's name (lower case, as node:http and undici hand headers over). */
export const fileIdentityHeader = "x-aciimg-file-identity";

/** `<device>:<inode>`, decimal, as the header carries it; bigint stats, since inodes pass 2^53 on some file systems. */
export function fileIdentityOf(stats: { dev: bigint; ino: bigint }): string {
  return `${stats.dev}:${stats.ino}`;
}

/** What the backend answers when the file is not the inode the client checked: HTTP's failed precondition. */
export const fileChangedStatus = 412;
export const fileChangedMessage = `File changed: it is not the file the client checked (${fileIdentityHeader})`;
