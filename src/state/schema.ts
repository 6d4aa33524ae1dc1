/**
 * The state document's schema, checked once for every store: the state holds each backend's key
 * and endpoint, so a half-understood document must stop us rather than be overwritten. What is
 * wrong is a typed problem; each store words it for where it keeps the state (a file, a blob).
 */
import type { AciimgError } from "../errors.js";
import { STATE_VERSION, type BackendRecord, type State } from "../engine/types.js";

/** Why a document is not version-1 state. */
export type StateProblem =
  | { kind: "not-json"; cause: unknown }
  | { kind: "not-object" }
  | { kind: "newer-version"; version: number }
  | { kind: "wrong-version"; version: unknown }
  | { kind: "backends-not-object" }
  | { kind: "malformed-owner" }
  | { kind: "malformed-record"; name: string; why: string };

/** Parses and checks a state document; a problem becomes the store's E_STATE error. */
export function parseState(text: string, describe: (problem: StateProblem) => AciimgError): State {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw describe({ kind: "not-json", cause: error });
  }
  if (!isObject(parsed)) throw describe({ kind: "not-object" });
  const { version, backends, owner } = parsed;
  if (typeof version === "number" && version > STATE_VERSION) throw describe({ kind: "newer-version", version });
  if (version !== STATE_VERSION) throw describe({ kind: "wrong-version", version });
  if (!isObject(backends)) throw describe({ kind: "backends-not-object" });
  // The owner id names the backends this state made (engine/owner.ts); absent in older states.
  if (owner !== undefined && !isOwnerId(owner)) throw describe({ kind: "malformed-owner" });
  const records: Record<string, BackendRecord> = {};
  for (const [name, record] of Object.entries(backends)) {
    const why = recordProblem(record);
    if (why !== undefined) throw describe({ kind: "malformed-record", name, why });
    // Kept whole: optional fields (tlsFingerprint, pid, provisioner) round-trip untouched.
    records[name] = record as unknown as BackendRecord;
  }
  return { version: STATE_VERSION, ...(owner === undefined ? {} : { owner }), backends: records };
}

/** A state with no backends and no owner yet: what a missing file or blob reads as. */
export function emptyState(): State {
  return { version: STATE_VERSION, backends: {} };
}

function isOwnerId(value: unknown): value is string {
  return typeof value === "string" && /^[A-Za-z0-9_-]{1,128}$/.test(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** What is wrong with a backend record, or undefined when it is one. */
function recordProblem(record: unknown): string | undefined {
  if (!isObject(record)) return "not an object";
  if (record.provider !== "local" && record.provider !== "aci") return "unknown provider";
  for (const key of ["id", "name", "endpoint", "apiKey", "createdAt", "lastUsed"] as const) {
    if (typeof record[key] !== "string") return `"${key}" is not a string`;
  }
  if (record.status !== "provisioning" && record.status !== "running") return "unknown status";
  if (!isObject(record.spec)) return '"spec" is not an object';
  return undefined;
}
