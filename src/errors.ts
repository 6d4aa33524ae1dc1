/**
 * The one error type of aciimg. Every failure a person can act on becomes an `AciimgError`
 * with a stable `code`, a message that says what was attempted, what happened and what to
 * do next, and the original error as `cause`. Foreign errors (RestError,
 * AggregateAuthenticationError, undici errors) are mapped once, where they occur.
 */

/** Stable error codes. Documented in docs/cli.md with their exit codes; never renamed. */
export const errorCodes = {
  /** A flag, parameter or config value is malformed. */
  E_USAGE: 2,
  /** An input file is missing, unreadable, not an image, or otherwise unusable. */
  E_BAD_INPUT: 1,
  /** The output cannot be written (path equals input, unwritable directory, …). */
  E_OUTPUT: 1,
  /** The output's file system takes no more writes (full, over quota, read-only): the batch stopped at the first. */
  E_DISK: 74,
  /** Another aciimg process is writing to the same output folder; nothing was done. */
  E_OUTPUT_BUSY: 75,
  /** The backend answered with an imaginary error (4xx) for this image. */
  E_IMAGE: 1,
  /**
   * The state file is corrupt, of a newer version, or cannot be
   * locked/written; or its directory is not the user's alone.
   */
  E_STATE: 3,
  /** The backend could not be reached or did not become healthy in time. */
  E_BACKEND_UNREACHABLE: 4,
  /** The backend presented a TLS certificate other than the one pinned for it; nothing was sent to it. */
  E_BACKEND_UNTRUSTED: 4,
  /** Provisioning a backend failed (provider-side failure not covered by a more precise code). */
  E_PROVISION: 4,
  /** A wait was bounded and the bound was reached. */
  E_TIMEOUT: 4,
  /**
   * The backend gave no answer to one image request within the request timeout. It may still be
   * working on it, so the request is not sent again (to it or to another backend).
   */
  E_REQUEST_TIMEOUT: 4,
  /** Azure: no credential in DefaultAzureCredential's chain produced a token. */
  E_NO_CREDENTIALS: 5,
  /** Azure: subscription or resource group not configured, or the subscription not registered for ACI. */
  E_CONFIG: 5,
  /** Azure: the resource group does not exist. */
  E_RESOURCE_GROUP_NOT_FOUND: 5,
  /** Azure: the identity lacks a role on the resource group. */
  E_FORBIDDEN: 5,
  /** Azure: the backend's container group name is taken by a group another aciimg state (or no aciimg) owns. */
  E_CONFLICT: 5,
  /** Azure: container group or core quota reached in the region. */
  E_QUOTA: 6,
  /** Azure: no capacity in the region right now (409 ServiceUnavailable). */
  E_CAPACITY: 6,
  /** Azure: the registry refused the pull (Docker Hub limit) or the image is inaccessible. */
  E_IMAGE_PULL: 6,
  /** Azure: throttled (429) beyond what the SDK retried. */
  E_THROTTLED: 6,
  /** Azure: a server error after the SDK's retries. */
  E_AZURE: 6,
  /** The operation was cancelled (Ctrl-C, abort signal). */
  E_ABORTED: 130,
  /** A bug: something we did not expect. */
  E_INTERNAL: 70,
} as const;

export type ErrorCode = keyof typeof errorCodes;

export interface AciimgErrorOptions {
  cause?: unknown;
  /** Extra machine-readable detail for `--json` output (never secrets). */
  detail?: Record<string, unknown>;
}

export class AciimgError extends Error {
  override readonly name = "AciimgError";
  readonly code: ErrorCode;
  readonly detail: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AciimgErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.detail = options.detail;
  }

  /** The process exit code the CLI uses for this error (docs/cli.md "Exit codes"). */
  get exitCode(): number {
    return errorCodes[this.code];
  }
}

/** True for an AciimgError, also across duplicate module copies (matches on name and code). */
export function isAciimgError(error: unknown): error is AciimgError {
  return (
    error instanceof AciimgError ||
    (error instanceof Error && error.name === "AciimgError" && typeof (error as { code?: unknown }).code === "string")
  );
}

/** A usage error naming the flag, the bad value and the accepted form. */
export function usageError(flag: string, expected: string, got: unknown): AciimgError {
  return new AciimgError("E_USAGE", `${flag}: expected ${expected}, got ${JSON.stringify(String(got))}`);
}

/** True when the error is an abort (AbortSignal fired), whatever produced it. */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || (error as { code?: unknown }).code === "ABORT_ERR");
}
