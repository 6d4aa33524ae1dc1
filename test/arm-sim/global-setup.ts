/**
 * Vitest global setup (runs in the main process before test workers fork): makes the ARM
 * simulator's CA and points NODE_EXTRA_CA_CERTS at it, so every worker — and the real Azure SDK
 * inside it — trusts the simulator the standard way. Node reads NODE_EXTRA_CA_CERTS only at
 * startup, and the SDK's HTTPS agents ignore https.globalAgent, so it must be set before the
 * workers start. The CA key is handed to workers through a file, for issuing server certs.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestCa } from "./ca.js";

export const CA_DIR_ENV = "ACIIMG_TEST_ARM_CA_DIR";

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), "aciimg-arm-ca-"));
  const ca = createTestCa();
  writeFileSync(join(dir, "ca.pem"), ca.certPem, { mode: 0o600 });
  writeFileSync(join(dir, "ca-key.pem"), ca.keyPem, { mode: 0o600 });
  const previous = process.env.NODE_EXTRA_CA_CERTS;
  process.env.NODE_EXTRA_CA_CERTS = join(dir, "ca.pem");
  process.env[CA_DIR_ENV] = dir;
  return () => {
    if (previous === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
    else process.env.NODE_EXTRA_CA_CERTS = previous;
    delete process.env[CA_DIR_ENV];
    rmSync(dir, { recursive: true, force: true });
  };
}
