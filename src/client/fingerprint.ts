/** SHA-256 certificate fingerprints as pins are written (pinning.ts compares them). */

/**
 * "ab:cd…", "ABCD…" → "AB:CD:…" (X509Certificate#fingerprint256's form); undefined when it is not 32 bytes
 * of hex.
 */
export function normalizeFingerprint(text: string): string | undefined {
  const hex = text.replace(/:/g, "").toUpperCase();
  return /^[0-9A-F]{64}$/.test(hex) ? hex.replace(/(..)(?!$)/g, "$1:") : undefined;
}
