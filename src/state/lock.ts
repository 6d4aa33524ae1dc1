/**
 * A cross-process lock file, created atomically (temp file + link) holding who took it (pid, host,
 * time, token).
 * A lock is stale when its pid is dead on this host, or when it is older than `staleMs` (holders
 * keep it for milliseconds: one read-modify-write of the state). Breaking a stale lock is itself
 * serialized by a second exclusive file, so two waiters never both break it and then remove a fresh
 * lock taken in between. A kill -9'd holder therefore delays the next run by at most one check.
 */
import { randomBytes } from "node:crypto";
import { link, readFile, stat, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { AciimgError } from "../errors.js";
import type { Clock } from "../engine/types.js";
import { isProcessAlive } from "../host-process.js";

export interface LockOptions {
  /** The lock file, e.g. state.json.lock. */
  path: string;
  clock: Clock;
  /** How long to wait for the lock before failing with E_STATE. Default 15 s. */
  timeoutMs?: number;
  /** A lock older than this is stale even if its holder seems alive. Default 30 s. */
  staleMs?: number;
  /** What the lock protects, for messages. */
  what: string;
}

interface LockOwner {
  pid: number;
  host: string;
  time: number;
  token: string;
}

/** Runs `fn` holding the lock; releases it however `fn` ends. */
export async function withLock<T>(options: LockOptions, fn: () => Promise<T>): Promise<T> {
  const token = await acquire(options);
  try {
    return await fn();
  } finally {
    await release(options.path, token);
  }
}

async function acquire(options: LockOptions): Promise<string> {
  const { path, clock } = options;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const staleMs = options.staleMs ?? 30_000;
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    time: clock.now(),
    token: randomBytes(12).toString("hex"),
  };
  const started = clock.now();
  let backoffMs = 2;
  let lastHolder: LockOwner | undefined;
  for (;;) {
    owner.time = clock.now();
    if (await tryCreate(path, JSON.stringify(owner))) return owner.token;
    const holder = await readOwner(path);
    if (holder) lastHolder = holder;
    if (await isStale(path, holder, staleMs, clock)) {
      await breakStale(path, holder, staleMs, clock);
      continue;
    }
    if (clock.now() - started > timeoutMs) {
      const who = lastHolder
        ? `process ${lastHolder.pid} on ${lastHolder.host} since ${new Date(lastHolder.time).toISOString()}`
        : "another process";
      throw new AciimgError(
        "E_STATE",
        `cannot lock ${options.what}: ${path} is held by ${who} for more than ${Math.round(timeoutMs / 1000)}s. ` +
          `If no aciimg process is running, delete ${path} and retry.`,
        { detail: { lockFile: path } },
      );
    }
    // Jittered back-off: many processes start at once (DESIGN.md §1), do not retry in lock-step.
    await clock.sleep(backoffMs + Math.random() * backoffMs);
    backoffMs = Math.min(backoffMs * 2, 100);
  }
}

/**
 * Creates `path` holding `content`, or returns false when it exists. The content is written to a
 * private temp file first and hard-linked into place: link() is atomic and fails with EEXIST, so
 * the lock is never visible empty. (With open("wx") then write, a holder stalled between the two
 * on a loaded machine looked like a crashed one to waiters, who broke a lock still in use.)
 */
async function tryCreate(path: string, content: string): Promise<boolean> {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(temp, content, { mode: 0o600, flag: "wx" });
    await link(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw new AciimgError("E_STATE", `cannot create lock file ${path}: ${(error as Error).message}`, { cause: error });
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, "utf8")) as Partial<LockOwner>;
    if (
      typeof parsed.pid === "number" &&
      typeof parsed.host === "string" &&
      typeof parsed.time === "number" &&
      typeof parsed.token === "string"
    ) {
      return parsed as LockOwner;
    }
  } catch {
    // missing, or being written right now (created but not yet filled): judged by its age below
  }
  return undefined;
}

async function isStale(path: string, holder: LockOwner | undefined, staleMs: number, clock: Clock): Promise<boolean> {
  if (holder) {
    if (holder.host === hostname() && !isProcessAlive(holder.pid)) return true;
    return clock.now() - holder.time > staleMs;
  }
  // Unreadable content: not written by this version (locks appear whole), or damaged.
  const age = await fileAgeMs(path);
  return age !== undefined && age > Math.min(staleMs, 2_000);
}

async function fileAgeMs(path: string): Promise<number | undefined> {
  try {
    // File times are wall-clock times, whatever clock steers the rest.
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Removes a stale lock, unless another waiter is already doing so or it changed since we judged it. */
async function breakStale(path: string, judged: LockOwner | undefined, staleMs: number, clock: Clock): Promise<void> {
  const breakerPath = `${path}.break`;
  if (!(await tryCreate(breakerPath, String(process.pid)))) {
    // A breaker killed mid-break would wedge everyone: its file is stale after a few seconds.
    const age = await fileAgeMs(breakerPath);
    if (age !== undefined && age > 5_000) await unlink(breakerPath).catch(() => undefined);
    return;
  }
  try {
    const current = await readOwner(path);
    const unchanged = judged ? current?.token === judged.token : current === undefined;
    if (unchanged && (await isStale(path, current, staleMs, clock))) await unlink(path).catch(() => undefined);
  } finally {
    await unlink(breakerPath).catch(() => undefined);
  }
}

async function release(path: string, token: string): Promise<void> {
  // Only remove our own lock: if we were judged stale and it was broken, it now belongs to another.
  const current = await readOwner(path);
  if (current?.token === token) await unlink(path).catch(() => undefined);
}
