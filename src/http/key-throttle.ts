/**
 * Slows down API key guessing, per client address: unthrottled, a client can try keys as fast as
 * the server answers. Each address may fail `burst` times at once, then once per `refillMs` (a token
 * bucket of failures). While its allowance is spent, its keyed requests get 429 + Retry-After
 * *without the key being checked*: an answer that still depended on the key would let the guessing
 * go on at full speed. A client with the right key behind the same address waits at most
 * `refillMs` once the wrong attempts stop.
 *
 * Memory is bounded: at most `maxAddresses` entries, the one that failed least recently dropped
 * first, and an entry whose allowance has refilled is forgotten (it is the same as no entry).
 */
import { isIPv6 } from "node:net";

export interface KeyThrottleOptions {
  /** Failures an address may make at once. Default 10. */
  burst?: number;
  /** One more failure allowed per this many milliseconds. Default 1000. */
  refillMs?: number;
  /** Addresses remembered at most. Default 10,000. */
  maxAddresses?: number;
  /** Milliseconds clock. Default Date.now. */
  now?: () => number;
}

export interface KeyThrottle {
  /** Milliseconds until `address` may present a key again; 0 when it may now. */
  waitMs(address: string): number;
  /** Counts a wrong or missing key from `address`. */
  failed(address: string): void;
}

interface Bucket {
  /** Failures still allowed at `at` (fractional while refilling). */
  allowance: number;
  at: number;
}

/** Creates the throttle (state lives in it, one per handler). */
export function createKeyThrottle(options: KeyThrottleOptions = {}): KeyThrottle {
  const burst = options.burst ?? 10;
  const refillMs = options.refillMs ?? 1000;
  const maxAddresses = options.maxAddresses ?? 10_000;
  const now = options.now ?? Date.now;
  // Insertion order is failure order: an entry is moved to the end on each failure.
  const buckets = new Map<string, Bucket>();

  const allowanceOf = (bucket: Bucket, at: number): number =>
    Math.min(burst, bucket.allowance + (at - bucket.at) / refillMs);

  return {
    waitMs(address) {
      const bucket = buckets.get(clientOf(address));
      if (!bucket) return 0;
      const allowance = allowanceOf(bucket, now());
      return allowance >= 1 ? 0 : Math.ceil((1 - allowance) * refillMs);
    },
    failed(address) {
      const client = clientOf(address);
      const at = now();
      const bucket = buckets.get(client);
      const allowance = (bucket ? allowanceOf(bucket, at) : burst) - 1;
      buckets.delete(client);
      buckets.set(client, { allowance, at });
      // Forget the oldest entries that have refilled, and the oldest of all past the cap.
      for (const [oldest, entry] of buckets) {
        if (buckets.size <= maxAddresses && allowanceOf(entry, at) < burst) break;
        buckets.delete(oldest);
      }
    },
  };
}

/**
 * The unit an address is throttled by: an IPv4 address (IPv4-mapped IPv6 included), or an IPv6
 * /64, the block one subscriber usually gets (counting each of its 2^64 addresses apart would
 * throttle nothing).
 */
export function clientOf(address: string): string {
  const plain = address.replace(/%.*$/, "").toLowerCase();
  if (!isIPv6(plain)) return plain;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(plain);
  if (mapped) return mapped[1] as string;
  const [head = "", tail] = plain.split("::");
  const groupsOf = (part: string): string[] =>
    part === "" ? [] : part.split(":").flatMap((group) => (group.includes(".") ? ["0", "0"] : [group]));
  const left = groupsOf(head);
  const right = tail === undefined ? [] : groupsOf(tail);
  const groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((group) => parseInt(group, 16).toString(16))
    .join(":")}::/64`;
}
