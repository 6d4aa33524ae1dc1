import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Makes the ARM simulator's CA and sets NODE_EXTRA_CA_CERTS before workers start (test/arm-sim).
    globalSetup: ["test/arm-sim/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two cores: integration tests start real servers and processes; keep parallelism modest.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
