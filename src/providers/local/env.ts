/**
 * The environment of a local backend: an allowlist, not the caller's environment. The
 * backend decodes untrusted images for as long as it lives; it must not hold the Azure client
 * secret, the serve key, registry passwords or anything else the CLI happened to inherit.
 */

/** Variables passed through by name: what node, libvips (with glib and fontconfig) and the C library read. */
const allowedNames = new Set([
  // Finding programs and libraries; the home and config dirs fontconfig keeps its cache under.
  "PATH",
  "HOME",
  "LD_LIBRARY_PATH",
  "XDG_CACHE_HOME",
  "XDG_CONFIG_HOME",
  "XDG_DATA_DIRS",
  // Locale and time: text rendering (watermark) and log timestamps.
  "LANG",
  "LANGUAGE",
  "TZ",
  // Where libvips spills images too large for memory.
  "TMPDIR",
  "TMP",
  "TEMP",
  // Fonts for the text watermark.
  "FONTCONFIG_FILE",
  "FONTCONFIG_PATH",
  // Memory tuning sharp's documentation recommends for long-running servers (a jemalloc LD_PRELOAD, glibc arenas).
  "LD_PRELOAD",
  "MALLOC_ARENA_MAX",
  // sharp runs libvips on libuv's thread pool.
  "UV_THREADPOOL_SIZE",
]);

/**
 * Families passed through by prefix: locale categories and libvips'
 * own settings (VIPS_CONCURRENCY, VIPS_DISC_THRESHOLD, …).
 */
const allowedPrefixes = ["LC_", "VIPS_"];

/**
 * The backend's environment: the allowed variables of `env`, and the key. NODE_OPTIONS is left out
 * on purpose: `--inspect` would open a debugger port any local user can reach, and `--require`
 * would load code into the process that holds the key.
 */
export function backendEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  apiKey: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (allowedNames.has(name) || allowedPrefixes.some((prefix) => name.startsWith(prefix))) out[name] = value;
  }
  out.ACIIMG_BACKEND_KEY = apiKey;
  return out;
}
