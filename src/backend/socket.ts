/**
 * Listening on a Unix domain socket the owner alone can reach: the local provider puts it
 * in its 0700 directory, and the socket itself is 0600 from the moment it exists.
 */
import { chmod, lstat, unlink } from "node:fs/promises";
import { connect, type Server } from "node:net";
import { AciimgError } from "../errors.js";

/** Linux's sun_path holds 108 bytes with the terminating NUL; a longer path cannot be bound. */
export const maxSocketPathBytes = 107;

/**
 * Removes what is left at `path` by a backend that died without closing (kill -9): only a socket,
 * and only when connecting to it is refused, which proves nobody listens there. Anything else
 * (a file, a live listener, a socket we may not probe) is refused, never unlinked.
 */
export async function removeStaleSocket(path: string): Promise<void> {
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw socketError(path, `cannot inspect it (${(error as NodeJS.ErrnoException).code ?? String(error)})`, error);
  }
  if (!stats.isSocket()) throw socketError(path, "it exists and is not a socket; refusing to replace it");
  const code = await new Promise<string | undefined>((resolve) => {
    const probe = connect({ path });
    probe.once("connect", () => {
      probe.destroy();
      resolve(undefined);
    });
    probe.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "EUNKNOWN"));
  });
  if (code === undefined) throw socketError(path, "another process is listening on it");
  if (code !== "ECONNREFUSED")
    throw socketError(path, `it exists and cannot be probed (${code}); refusing to replace it`);
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "ENOENT")
      throw socketError(path, `cannot remove the dead socket (${error.code ?? String(error)})`, error);
  });
}

/**
 * `server.listen(path)` with a umask of 0177, so the socket file is never, even briefly,
 * connectable by another user (Linux checks write permission on the file to connect), then chmod
 * 0600 in case the platform ignored the umask for sockets.
 */
export async function listenOnSocket(server: Server, path: string): Promise<void> {
  if (Buffer.byteLength(path) > maxSocketPathBytes) {
    throw socketError(
      path,
      `the path is ${Buffer.byteLength(path)} bytes, longer than the ${maxSocketPathBytes} a Unix socket path may have`,
    );
  }
  await removeStaleSocket(path);
  const previous = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    throw socketError(path, `cannot listen (${(error as NodeJS.ErrnoException).code ?? String(error)})`, error);
  } finally {
    process.umask(previous);
  }
  await chmod(path, 0o600);
}

function socketError(path: string, what: string, cause?: unknown): AciimgError {
  return new AciimgError(
    "E_USAGE",
    `backend: --socket ${JSON.stringify(path)}: ${what}`,
    cause === undefined ? {} : { cause },
  );
}
