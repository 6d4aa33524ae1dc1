/**
 * The Azure Functions app (Node.js programming model v4): `process`, an HTTP trigger that
 * provisions or proxies, and `cleanup`, a timer that reaps idle backends every 5 minutes.
 *
 * This is the one place with module-scope singletons (DESIGN.md §2): the host loads this module
 * once per worker and calls the handlers many times, so the engine (its SDK clients, pools and
 * credential) is opened once, on the first invocation, and reused (docs/reference/arm-notes.md §7).
 *
 * package.json is `"type": "module"` and `main` points here: the Node worker imports a `.js` main
 * as ESM when package.json says so (azure-functions-nodejs-worker src/loadScriptFile.ts, isESModule).
 * @azure/functions is CommonJS without static named exports, hence the default import.
 */
import functions, { type HttpFunctionOptions, type TimerFunctionOptions } from "@azure/functions";
import { loadConfig, processEnvironment, screensSvg } from "../config.js";
import { openEngine } from "../compose.js";
import type { Engine } from "../engine/types.js";
import { createFunctionHandlers } from "./handlers.js";

const config = loadConfig({}, processEnvironment(), ".", {
  onWarning: (message) => console.warn(`aciimg: warning: ${message}`),
});

let engine: Promise<Engine> | undefined;

/** The app's one engine; a failed open is forgotten so the next invocation tries again. */
function appEngine(): Promise<Engine> {
  // Warnings (a state file others could read, tightened) go to the host's log.
  engine ??= openEngine(config, { warn: (message) => console.warn(`aciimg: warning: ${message}`) }).catch(
    (error: unknown) => {
      engine = undefined;
      throw error;
    },
  );
  return engine;
}

export const { process: processImage, cleanup } = createFunctionHandlers({
  engine: appEngine,
  key: config.serve.key,
  maxUploadBytes: config.maxUploadBytes,
  screenSvg: screensSvg(config),
  idleMs: config.idleMs,
});

// Stream request and response bodies instead of buffering them in the host (needs Functions host 4.28+).
functions.app.setup({ enableHttpStream: true });

/** The HTTP trigger: imaginary's routes under the host's /api prefix, guarded by the function key. */
export const processTrigger = {
  methods: ["GET", "POST"],
  authLevel: "function",
  route: "{op}",
  handler: processImage,
} satisfies HttpFunctionOptions;

/** The reaper: NCRONTAB, six fields, second 0 of every 5th minute (docs/reference/arm-notes.md §7). */
export const cleanupTimer = {
  schedule: "0 */5 * * * *",
  handler: cleanup,
} satisfies TimerFunctionOptions;

functions.app.http("process", processTrigger);
functions.app.timer("cleanup", cleanupTimer);
