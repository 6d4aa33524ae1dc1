import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Makes the ARM simulator's CA and sets NODE_EXTRA_CA_CERTS before workers start (test/arm-sim).
    globalSetup: ["test/arm-sim/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two cores: integration tests start real servers and processes; keep parallelism modest.
    maxWorkers: 2,
    reporters: ["default"],
    projects: [
      {
        extends: true,
        // Real servers, processes and the ARM simulator: each file in a fresh process, as some
        // set process.env (the simulator's managed identity) for the SDK they call.
        test: { name: "servers", include: ["test/integration/**/*.test.ts", "test/e2e/**/*.test.ts"] },
      },
      {
        extends: true,
        // Pure logic that touches no global state: one process for all of them, which halves
        // their time (a fresh process per file costs more than most of these files' tests).
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], isolate: false },
      },
    ],
  },
});
