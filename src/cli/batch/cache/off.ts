/** The cache that is off (a store that cannot be used, or one closed): every get misses, every put stores nothing. */
import { checkKey } from "./entry.js";
import type { RenditionCache } from "./index.js";

export function cacheOff(describe: string): RenditionCache {
  return {
    describe,
    get: async (key) => {
      checkKey(key);
      return undefined;
    },
    put: async (key) => checkKey(key),
    close: async () => undefined,
  };
}
