/**
 * Processes on this host (pid liveness, /proc): neutral, used by
 * the local provider, the engine (provisioners) and the state lock.
 */
import { existsSync, readFileSync, readlinkSync } from "node:fs";

/**
 * True when `pid` runs on this host. A zombie (exited, not yet reaped by its parent) counts as
 * dead: on Linux /proc/<pid>/stat shows state Z, and it will never answer again.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to another user; it is alive.
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return procState(pid) !== "Z";
}

/** The one-letter state from /proc/<pid>/stat (Linux), undefined elsewhere or when unreadable. */
export function procState(pid: number): string | undefined {
  return procStatField(pid, 3);
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot): with the pid, a process identity. */
export function procStartTime(pid: number): string | undefined {
  return procStatField(pid, 22);
}

/** Field `n` (1-based, as in proc(5)) of /proc/<pid>/stat; fields 1 and 2 are not supported. */
function procStatField(pid: number, n: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may contain spaces: parse after the last ')'.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[n - 3];
  } catch {
    return undefined;
  }
}

/** The process's argv from /proc/<pid>/cmdline (Linux), undefined when unreadable. */
export function procArgv(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return raw.split("\0").filter((part) => part.length > 0);
  } catch {
    return undefined;
  }
}

/** The real and effective uid of `pid` from /proc/<pid>/status (Linux), undefined when unreadable. */
export function procUids(pid: number): { real: number; effective: number } | undefined {
  try {
    const match = /^Uid:\s+(\d+)\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? { real: Number(match[1]), effective: Number(match[2]) } : undefined;
  } catch {
    return undefined;
  }
}

/** True where /proc describes processes (Linux): there, an unreadable /proc/<pid> is not a process of ours. */
export function hasProcFs(): boolean {
  return existsSync("/proc/self/status");
}

/**
 * True when `pid` sees the files this process sees at the same paths: the same mount namespace
 * (Linux; a CLI under `unshare -m` or systemd's PrivateTmp sees another /tmp). True where there is
 * no /proc to compare; false when the other process's namespace cannot be read.
 */
export function sharesMountNamespace(pid: number): boolean {
  let own: string;
  try {
    own = readlinkSync("/proc/self/ns/mnt");
  } catch {
    return !hasProcFs();
  }
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`) === own;
  } catch {
    return false;
  }
}
