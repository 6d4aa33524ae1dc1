/**
 * What the CLI says when the running backend's settings are not the configured ones: a warning on
 * every command that uses such a backend (spec drift, src/engine/spec-drift.ts), and a clear
 * refusal of an input larger than the running backend accepts. A backend keeps the settings it was
 * started with until it is replaced, so every message names the command that applies new ones.
 */
import type { BackendRecord, BackendRef, BackendSpec, DriftSetting, SettingDrift } from "../engine/types.js";
import { formatBytes, formatDuration } from "../units.js";

/**
 * Where each setting is configured, as a person types it. Only flags that every command accepts
 * are named: the upload and resolution limits have none (`--max-size` belongs to the internal
 * `aciimg backend`), so those name the environment variable and the config file key.
 */
const settings: Record<DriftSetting, { label: string; from: string; show: (value: number | string) => string }> = {
  maxUploadBytes: {
    label: "max upload",
    from: 'ACIIMG_MAX_SIZE or config "maxSize"',
    show: (v) => (typeof v === "number" ? formatBytes(v) : v),
  },
  maxResolutionMP: {
    label: "max resolution",
    from: 'ACIIMG_MAX_RESOLUTION or config "maxResolution"',
    show: (v) => `${v} MP`,
  },
  maxRenderTimeMs: {
    label: "max render time",
    from: 'ACIIMG_MAX_RENDER_TIME or config "maxRenderTime"',
    show: (v) => (typeof v === "number" ? formatDuration(v) : v),
  },
  cpu: { label: "CPUs", from: '--cpu, ACIIMG_CPU or config "cpu"', show: String },
  memoryInGB: { label: "memory", from: '--memory, ACIIMG_MEMORY or config "memory"', show: (v) => `${v} GB` },
  image: { label: "image", from: '--image, ACIIMG_IMAGE or config "image"', show: String },
  location: { label: "location", from: '--location, ACIIMG_LOCATION or config "location"', show: String },
};

/** The two values as people read them; exact when rounding would make them look the same. */
function shown(setting: DriftSetting, running: number | string, requested: number | string): [string, string] {
  const { show } = settings[setting];
  const pair: [string, string] = [show(running), show(requested)];
  return pair[0] === pair[1] && setting === "maxUploadBytes" ? [`${running} bytes`, `${requested} bytes`] : pair;
}

/** Which command applies new settings, as said by the surface that warns. */
export type DriftRemedy =
  /** `process` and other one-shot commands: the next run starts a backend with the new settings. */
  | "retry"
  /** `up`: replace the backend now. */
  | "up"
  /** `serve`: keeps running; after `down` its next request starts a backend with its settings. */
  | "serve";

const remedies: Record<DriftRemedy, string> = {
  retry: "run `aciimg down` and retry to apply the new settings",
  up: "run `aciimg down && aciimg up` to apply the new settings",
  serve: "run `aciimg down` to apply the new settings (this server then starts a new backend on its next request)",
};

/**
 * One line saying how the running backend differs from the configuration and how to apply the
 * configuration; undefined when there is no drift.
 */
export function driftWarning(
  backend: Pick<BackendRef, "provider" | "name">,
  drift: readonly SettingDrift[],
  remedy: DriftRemedy = "retry",
): string | undefined {
  if (drift.length === 0) return undefined;
  const differences = drift.map(({ setting, running, requested }) => {
    const [was, wanted] = shown(setting, running, requested);
    return `${settings[setting].label} ${was} where ${wanted} is configured now (${settings[setting].from})`;
  });
  return (
    `the running ${backend.provider} backend "${backend.name}" was started with ${differences.join(", and ")}; ` +
    `a backend keeps its settings while it runs: ${remedies[remedy]}`
  );
}

/** Writes the drift warning, if any, as one `aciimg: warning: …` line on stderr. */
export function warnDrift(
  backend: Pick<BackendRef, "provider" | "name">,
  drift: readonly SettingDrift[],
  remedy: DriftRemedy = "retry",
  stderr: NodeJS.WritableStream = process.stderr,
): void {
  const warning = driftWarning(backend, drift, remedy);
  if (warning) stderr.write(`aciimg: warning: ${warning}\n`);
}

/**
 * Why an input of `sizeBytes` cannot go to the running backend `record`, or undefined when it
 * fits. Checked against the running backend's limit, not the configured one: a raised
 * ACIIMG_MAX_SIZE does not reach a backend started before, and the message says so.
 */
export function oversizeMessage(
  sizeBytes: number,
  record: Pick<BackendRecord, "provider" | "name" | "spec">,
  requested: Pick<BackendSpec, "maxUploadBytes">,
  subject = "the image",
): string | undefined {
  const limit = record.spec.maxUploadBytes;
  if (typeof limit !== "number" || sizeBytes <= limit) return undefined;
  const [size, running] = shown("maxUploadBytes", sizeBytes, limit);
  const head =
    `${subject} is ${size}, more than ` +
    `the ${running} the running ${record.provider} backend "${record.name}" accepts`;
  const { from } = settings.maxUploadBytes;
  if (requested.maxUploadBytes >= sizeBytes) {
    return (
      `${head}: it was started before the limit became ${formatBytes(requested.maxUploadBytes)} (${from}); ` +
      `run \`aciimg down\` and retry`
    );
  }
  const now = requested.maxUploadBytes === limit ? "" : ` (configured now: ${formatBytes(requested.maxUploadBytes)})`;
  return `${head}: raise ${from}${now} above ${size}, then run \`aciimg down\` and retry`;
}

/**
 * What `process` says of an image the running backend refused as over its resolution limit
 * (imaginary's 422 "Image resolution is too big", or the built-in backend's for an animation's
 * frames or the output): the limit the backend was started with, and how to raise it.
 */
export function overResolutionMessage(
  record: Pick<BackendRecord, "provider" | "name" | "spec">,
  backendMessage: string,
  subject = "the image",
): string {
  const limit = record.spec.maxResolutionMP;
  const accepts = typeof limit === "number" ? ` of ${settings.maxResolutionMP.show(limit)}` : "";
  const backend = `the running ${record.provider} backend "${record.name}"`;
  return (
    `${subject} is over the resolution limit${accepts} of ${backend} (${backendMessage}): ` +
    `raise ${settings.maxResolutionMP.from} above its megapixels, then run \`aciimg down\` and retry ` +
    "(a backend keeps its limit while it runs)"
  );
}
