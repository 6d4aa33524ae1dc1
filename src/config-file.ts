/**
 * The config file (`aciimg.config.json` or `--config`): a flat JSON object of known keys. A file is
 * read only when it is trusted as git trusts a repository and ssh a config: owned by this user (or
 * root) and writable by no one else. It is opened once, without following a link, and checked on
 * the open descriptor, so a file swapped between the check and the read (in a folder another user
 * can write) is never the one read.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, type Stats } from "node:fs";
import type { ConfigOverrides } from "./config.js";
import { AciimgError } from "./errors.js";
import { octal } from "./private-dir.js";

/**
 * Settings that decide where a secret goes, which a file never sets: `armEndpoint` (your Azure
 * token), `registryServer` (the registry password), `image` (the code your images and the backend's
 * key are handed to) and `state` (the file that holds backend keys and says which
 * backend to trust). A file you own may still be one you did not write (a checked-out
 * repository), so these come only from flags and the environment, with the variable to use instead.
 */
const flagOrEnvOnly = new Map<string, string>([
  ["armEndpoint", "it decides where your Azure token is sent: set AZURE_ARM_ENDPOINT instead"],
  [
    "registryServer",
    "it decides where the registry password is sent: use --registry-server or ACIIMG_REGISTRY_SERVER instead",
  ],
  ["image", "it decides which code receives your images and the backend's key: use --image or ACIIMG_IMAGE instead"],
  ["state", "it decides which backends (and keys) aciimg trusts: use --state or ACIIMG_STATE instead"],
]);

/** The config file's accepted keys (camelCase), all optional. */
export type FileConfig = Partial<
  Record<
    | Exclude<keyof ConfigOverrides, "config" | "key" | "state" | "registryServer" | "image">
    | "pollInterval"
    | "blobContainer",
    string | number
  >
>;

const fileKeys = new Set<string>([
  "provider",
  "name",
  "idle",
  "cpu",
  "memory",
  "location",
  "subscription",
  "resourceGroup",
  "registryUsername",
  "timeout",
  "maxSize",
  "maxResolution",
  "maxRenderTime",
  "host",
  "port",
  "pollInterval",
  "blobContainer",
  "tlsCert",
  "tlsKey",
  "backends",
  "withLocal",
  "requestTimeout",
  "failOn",
]);

/** Keys that are switches: `true`/`false` in the file, kept as the text a flag or variable would give. */
const switchKeys = new Set<string>(["withLocal"]);

/**
 * How the file was chosen: named (`--config`, ACIIMG_CONFIG: an untrusted one fails) or found in the working directory.
 */
export interface ConfigFileSource {
  /** The flag or variable that named the file; undefined for `aciimg.config.json` found in the working directory. */
  namedBy?: string;
  /** Told, as one sentence, why a found file was ignored. */
  onWarning?: (message: string) => void;
}

/**
 * The config file at `path` as flat keys, each checked known and a string or number; `{}` when it
 * is absent and not named, or found but untrusted (with a warning).
 */
export function readConfigFile(path: string, source: ConfigFileSource = {}): FileConfig {
  const opened = openTrusted(path);
  if (opened === "missing") {
    if (source.namedBy === undefined) return {};
    throw new AciimgError("E_USAGE", `cannot read config file ${path} (named by ${source.namedBy}): it does not exist`);
  }
  if ("untrusted" in opened) {
    const fix = `To use it, make it a file of yours only you can write (chown $(id -u) ${path} && chmod go-w ${path})`;
    if (source.namedBy !== undefined) {
      throw new AciimgError(
        "E_USAGE",
        `config file ${path} (named by ${source.namedBy}) is not trusted: ${opened.untrusted}. ${fix}.`,
        {
          detail: { configFile: path },
        },
      );
    }
    source.onWarning?.(`ignored ${path}: ${opened.untrusted}. ${fix}.`);
    return {};
  }
  return parseConfig(path, opened.text);
}

type Opened = "missing" | { untrusted: string } | { text: string };

/** Opens `path` once (a link only when this user or root owns it), checks the open file, and reads it. */
function openTrusted(path: string): Opened {
  // O_NONBLOCK: a FIFO planted under the name must not hang the open; it is refused as not a file below.
  const flags = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);
  let fd: number;
  try {
    fd = openSync(path, flags | (constants.O_NOFOLLOW ?? 0));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "missing";
    if (code !== "ELOOP") throw unreadable(path, error);
    // A link: followed only when its owner is trusted (the kernel's protected_symlinks rule, whatever
    // this machine's setting); what it leads to is then checked on the descriptor like any file.
    const link = statOrMissing(() => lstatSync(path), path);
    if (link === undefined) return "missing";
    const owner = ownerProblem(link, "is a symbolic link owned by");
    if (owner) return { untrusted: owner };
    try {
      fd = openSync(path, flags);
    } catch (followError) {
      if ((followError as NodeJS.ErrnoException).code === "ENOENT") return "missing";
      throw unreadable(path, followError);
    }
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) return { untrusted: "it is not a regular file" };
    const problem = ownerProblem(info, "belongs to") ?? modeProblem(info);
    if (problem)
      return { untrusted: `${problem}: whoever can write it could send your Azure token and images elsewhere` };
    return { text: readFileSync(fd, "utf8") };
  } catch (error) {
    throw unreadable(path, error);
  } finally {
    closeSync(fd);
  }
}

/**
 * Why a file or link with these stats is not trusted by owner: only this
 * user and root are. Undefined where owners do not exist (Windows).
 */
function ownerProblem(info: Stats, what: string): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined || info.uid === uid || info.uid === 0) return undefined;
  return `it ${what} uid ${info.uid}, not you (uid ${uid}) or root`;
}

function modeProblem(info: Stats): string | undefined {
  if (process.platform === "win32" || (info.mode & 0o022) === 0) return undefined;
  return `it is writable by ${(info.mode & 0o002) !== 0 ? "every user" : "its group"} (mode ${octal(info.mode)})`;
}

function statOrMissing(how: () => Stats, path: string): Stats | undefined {
  try {
    return how();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw unreadable(path, error);
  }
}

function unreadable(path: string, error: unknown): AciimgError {
  return new AciimgError("E_USAGE", `cannot read config file ${path}: ${(error as Error).message}`, { cause: error });
}

function parseConfig(path: string, text: string): FileConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new AciimgError("E_USAGE", `config file ${path} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new AciimgError("E_USAGE", `config file ${path} must hold a JSON object`);
  }
  const out: FileConfig = {};
  for (const [key, value] of Object.entries(parsed)) {
    const onlyElsewhere = flagOrEnvOnly.get(key);
    if (onlyElsewhere !== undefined) {
      throw new AciimgError(
        "E_USAGE",
        `config file ${path}: "${key}" cannot be set in a config file, since ${onlyElsewhere}`,
      );
    }
    if (!fileKeys.has(key)) {
      throw new AciimgError(
        "E_USAGE",
        `config file ${path}: unknown key "${key}" (known: ${[...fileKeys].join(", ")})`,
      );
    }
    if (switchKeys.has(key) && typeof value === "boolean") {
      (out as Record<string, string | number>)[key] = String(value);
      continue;
    }
    if (typeof value !== "string" && typeof value !== "number") {
      throw new AciimgError("E_USAGE", `config file ${path}: "${key}" must be a string or number`);
    }
    (out as Record<string, string | number>)[key] = value;
  }
  return out;
}
