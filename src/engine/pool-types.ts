/**
 * The pool's contract (pool.ts): the members it is given, the events it reports, the slots it
 * hands out and the view of its members.
 */
import type { AciimgError } from "../errors.js";
import type { BackendRecord, Engine, EnsureResult, ImageRequest, ImageResponse } from "./types.js";

export interface PoolMember {
  /** How reports name it: "aci-1", "local". */
  label: string;
  /** Its engine, made with `poolMember: true`. */
  engine: Engine;
  /** When the pool closes, after the member's work ends: e.g. take down an ephemeral backend. */
  release?(): Promise<void>;
}

export type PoolEvent =
  | { kind: "ready"; label: string; result: EnsureResult }
  /** It could not start (quota, capacity, a failed create): the pool goes on without it. */
  | { kind: "failed"; label: string; error: AciimgError }
  /** It vanished while serving (deleted, reaped, killed): its requests go to the others. */
  | { kind: "gone"; label: string; error: AciimgError }
  /** Every member had vanished: this one is being started again. */
  | { kind: "reviving"; label: string };

export interface PoolOptions {
  members: PoolMember[];
  /** Requests a member starts with in flight (2 × its CPUs). */
  initialWindow(record: BackendRecord): number | Promise<number>;
  /**
   * The most a member's window may grow to.
   * @default 64
   */
  maxWindow?: number;
  /** Requests in flight across all members (`--concurrency`). Default: only the members' windows. */
  maxInFlight?: number;
  /** Phases of members starting ("aci-2: Pulling"). */
  onPhase?(label: string, phase: string): void;
  onEvent?(event: PoolEvent): void;
}

export interface PoolSlot {
  readonly label: string;
  /** The member's backend, for what depends on it (its size limit, whether it reads files itself). */
  readonly record: BackendRecord;
  /**
   * Sends one request through the member's engine. A vanished backend takes the member out of
   * the pool and rejects with the error: `acquire` again to send it elsewhere (`isVanished`).
   */
  send(request: ImageRequest): Promise<ImageResponse>;
  /** The slot is free again (the response is consumed or dropped). Idempotent. */
  release(): void;
}

export interface MemberView {
  label: string;
  state: "starting" | "ready" | "failed" | "gone";
  /** Why it failed or went. */
  error?: AciimgError;
  /** Requests it answered. */
  served: number;
  /** Its window now. */
  window: number;
}

export interface Pool {
  /** Starts every member in parallel; resolves when one is ready, rejects when every one failed. */
  start(signal: AbortSignal): Promise<void>;
  /** Resolves once no member is starting any more (each ready, failed or gone). */
  settled(): Promise<MemberView[]>;
  /** A slot on the ready member with the fewest requests in flight; waits for one. */
  acquire(signal: AbortSignal): Promise<PoolSlot>;
  members(): MemberView[];
  /** Stops members still starting, ends every member's work (lastUsed written), releases them. */
  close(): Promise<void>;
}
