/**
 * A `StateStore` on Azure Blob Storage, for the Functions app: its instances share no disk, so
 * the state lives in one JSON blob and read-modify-write is serialized with ETags (If-Match on
 * replace, If-None-Match: * on create) and retried with jittered back-off when another writer won.
 */
import type { TokenCredential } from "@azure/core-auth";
import type { ContainerClient } from "@azure/storage-blob";
import type { BlobStateConfig } from "../config.js";
import { STATE_VERSION, type State, type StateStore } from "../engine/types.js";
import { AciimgError, isAciimgError } from "../errors.js";
import { emptyState, parseState, type StateProblem } from "./schema.js";

/** Dependencies a caller may inject (tests steer back-off; the Functions app uses the defaults). */
export interface BlobStateDeps {
  /** Credential for a container URL without a SAS. Default: DefaultAzureCredential (loaded on first use). */
  credential?: TokenCredential;
  /** Attempts of one `update` before giving up with E_STATE. Default 50. */
  maxAttempts?: number;
  /** Upper bound of one back-off wait in ms. Default 400. */
  maxBackoffMs?: number;
  /** The SDK's own retry of failed requests (network errors, 5xx). Default: 3 tries from 500 ms. */
  retry?: { maxTries: number; retryDelayInMs: number };
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

interface Snapshot {
  state: State;
  /** Absent when the blob does not exist yet. */
  etag: string | undefined;
}

/** The HTTP status and storage error code of an SDK error, where it has them. */
export function statusOf(error: unknown): { status?: number; code?: string } {
  if (typeof error !== "object" || error === null) return {};
  const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
  return {
    status: typeof statusCode === "number" ? statusCode : undefined,
    code: typeof code === "string" ? code : undefined,
  };
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Creates the blob state store; the container is created on the first write if it is missing.
 * (Long only for its methods, each short: they share the client and the ETag retry.)
 */
export function createBlobStateStore(options: BlobStateConfig, deps: BlobStateDeps = {}): StateStore {
  const maxAttempts = deps.maxAttempts ?? 50;
  const maxBackoffMs = deps.maxBackoffMs ?? 400;
  const random = deps.random ?? Math.random;
  const sleep = deps.sleep ?? defaultSleep;
  // Never the connection string or a SAS: the location appears in messages.
  const where = options.containerUrl ? redactUrl(options.containerUrl) : options.container;
  const location = `blob ${where}/${options.blobName}`;

  let containerPromise: Promise<ContainerClient> | undefined;
  const container = (): Promise<ContainerClient> => {
    // The SDK is loaded on first use, so importing the module (e.g. for the CLI's help) stays cheap.
    containerPromise ??= openContainer(options, deps).catch((error: unknown) => {
      containerPromise = undefined;
      throw error;
    });
    return containerPromise;
  };

  const fail = (action: string, error: unknown): AciimgError => {
    if (isAciimgError(error)) return error;
    const { status, code } = statusOf(error);
    const what = status === undefined ? (error as Error).message : `HTTP ${status}${code ? ` ${code}` : ""}`;
    const hint =
      status === 401 || status === 403
        ? "check the storage connection string (AzureWebJobsStorage) or the identity's role on the account"
        : "check that the storage account is reachable and retry";
    return new AciimgError("E_STATE", `cannot ${action} the state in ${location}: ${what}; ${hint}`, { cause: error });
  };

  async function load(): Promise<Snapshot> {
    const blob = (await container()).getBlockBlobClient(options.blobName);
    let text: string;
    let etag: string | undefined;
    try {
      const response = await blob.download(0);
      etag = response.etag;
      text = await readAll(response.readableStreamBody);
    } catch (error) {
      // Missing container or blob: nothing has been recorded yet.
      if (statusOf(error).status === 404) return { state: emptyState(), etag: undefined };
      throw fail("read", error);
    }
    return { state: parseState(text, describeBlobProblem(location)), etag };
  }

  async function write(snapshot: Snapshot, text: string): Promise<"written" | "conflict"> {
    const client = await container();
    const blob = client.getBlockBlobClient(options.blobName);
    const conditions = snapshot.etag === undefined ? { ifNoneMatch: "*" } : { ifMatch: snapshot.etag };
    for (let createdContainer = false; ; createdContainer = true) {
      try {
        await blob.upload(text, Buffer.byteLength(text), {
          conditions,
          blobHTTPHeaders: { blobContentType: "application/json" },
        });
        return "written";
      } catch (error) {
        const { status, code } = statusOf(error);
        // 412: the ETag moved (someone else wrote). 409 BlobAlreadyExists: someone created it first.
        if (status === 412 || (status === 409 && code !== "ContainerBeingDeleted")) return "conflict";
        if (status === 404 && code === "ContainerNotFound" && !createdContainer) {
          try {
            await client.createIfNotExists();
          } catch (createError) {
            throw fail("create the container for", createError);
          }
          continue;
        }
        throw fail("write", error);
      }
    }
  }

  return {
    location,
    async read() {
      return (await load()).state;
    },
    async update<T>(fn: (state: State) => T | Promise<T>): Promise<T> {
      for (let attempt = 1; ; attempt++) {
        const snapshot = await load();
        const draft = structuredClone(snapshot.state);
        const result = await fn(draft);
        const text = `${JSON.stringify(draft, null, 2)}\n`;
        // Unchanged: nothing to write (keeps lastUsed-free reads from contending for the ETag).
        if (JSON.stringify(draft) === JSON.stringify(snapshot.state)) return result;
        if ((await write(snapshot, text)) === "written") return result;
        if (attempt >= maxAttempts) {
          throw new AciimgError(
            "E_STATE",
            `cannot update the state in ${location}: ` +
              `${maxAttempts} attempts lost the race to other writers; retry later`,
          );
        }
        // Full jitter, doubling from 10 ms: contenders spread out instead of colliding again.
        await sleep(Math.floor(random() * Math.min(maxBackoffMs, 10 * 2 ** Math.min(attempt, 10))));
      }
    },
  };
}

/**
 * The container client for a connection string, else a container URL (a SAS in it, else the
 * credential); the SDK is loaded here. Also used by the rendition cache's blob form, so both
 * authenticate alike.
 */
export async function openContainer(
  options: Pick<BlobStateConfig, "connectionString" | "containerUrl" | "container">,
  deps: Pick<BlobStateDeps, "credential" | "retry">,
): Promise<ContainerClient> {
  const { AnonymousCredential, BlobServiceClient, ContainerClient } = await import("@azure/storage-blob");
  const clientOptions = {
    retryOptions: { maxRetryDelayInMs: 4_000, ...(deps.retry ?? { maxTries: 3, retryDelayInMs: 500 }) },
  };
  if (options.connectionString) {
    try {
      return BlobServiceClient.fromConnectionString(options.connectionString, clientOptions).getContainerClient(
        options.container,
      );
    } catch (error) {
      // The SDK's message may quote the connection string; ours never does.
      throw new AciimgError(
        "E_CONFIG",
        "the blob state connection string (AzureWebJobsStorage or ACIIMG_STATE_BLOB_CONNECTION_STRING) is malformed",
        { cause: error },
      );
    }
  }
  if (options.containerUrl) {
    let url: URL;
    try {
      url = new URL(options.containerUrl);
    } catch (error) {
      throw new AciimgError(
        "E_CONFIG",
        "ACIIMG_STATE_BLOB_URL is not a URL; expected https://<account>.blob.core.windows.net/<container>",
        { cause: error },
      );
    }
    if (url.searchParams.has("sig"))
      return new ContainerClient(options.containerUrl, new AnonymousCredential(), clientOptions);
    const credential = deps.credential ?? new (await import("@azure/identity")).DefaultAzureCredential();
    return new ContainerClient(options.containerUrl, credential, clientOptions);
  }
  throw new AciimgError(
    "E_CONFIG",
    "blob state needs a connection string (AzureWebJobsStorage or ACIIMG_STATE_BLOB_CONNECTION_STRING) " +
      "or a container URL (ACIIMG_STATE_BLOB_URL)",
  );
}

/** A URL for messages: the SAS query (a secret) is dropped. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`.replace(/\/+$/, "");
  } catch {
    return "(container URL)";
  }
}

/** Words a schema problem for the blob: what is wrong with it, and that deleting it is the way out. */
function describeBlobProblem(location: string): (problem: StateProblem) => AciimgError {
  const wayOut =
    `delete the blob ${location} (backends it recorded are then another state's: ` +
    `\`aciimg status\` lists them and \`aciimg down --name <name> --force\` deletes them)`;
  const corrupt = (why: string) =>
    new AciimgError("E_STATE", `the state in ${location} is corrupt (${why}); ${wayOut}`);
  return (problem) => {
    switch (problem.kind) {
      case "not-json":
        return new AciimgError("E_STATE", `the state in ${location} is not valid JSON; ${wayOut}`, {
          cause: problem.cause,
        });
      case "not-object":
        return corrupt("not a JSON object");
      case "newer-version":
        return new AciimgError(
          "E_STATE",
          `the state in ${location} has version ${problem.version}, ` +
            `newer than this aciimg understands (${STATE_VERSION}); upgrade aciimg`,
        );
      case "wrong-version":
        return corrupt(`version ${JSON.stringify(problem.version)}`);
      case "backends-not-object":
        return corrupt('"backends" is not an object');
      case "malformed-owner":
        return corrupt('"owner" is not an owner id');
      case "malformed-record":
        return corrupt(`backend "${problem.name}": ${problem.why}`);
    }
  };
}

async function readAll(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!stream) return "";
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString("utf8");
}
