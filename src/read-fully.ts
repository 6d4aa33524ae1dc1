/**
 * Reading a whole range of an open file with synchronous calls: neutral, used by the backend's
 * file source and the CLI's input checks, where a read is a few microseconds from the page cache
 * and a thread-pool round trip would cost more.
 */
import { readSync } from "node:fs";

/**
 * Fills `buffer` from `position` of the open file `fd`; returns the part filled (shorter only at the end of the file).
 */
export function readFullySync(fd: number, buffer: Buffer, position: number): Buffer {
  let filled = 0;
  while (filled < buffer.length) {
    const bytesRead = readSync(fd, buffer, filled, buffer.length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === buffer.length ? buffer : buffer.subarray(0, filled);
}
