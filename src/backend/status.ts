/**
 * The JSON of `/` and `/health`, with imaginary's field names (docs/reference/imaginary-api.md §1.1, §3). The Go
 * runtime figures map onto Node's: allocatedMemory = heapUsed, totalAllocatedMemory = heapUsed +
 * external, maxHeapUsage = heapTotal, heapInUse = heapUsed, OSMemoryObtained = rss (all MB, 2 dp);
 * goroutines = requests in flight + queued; objectsInUse = images libvips is processing;
 * completedGCCycles = GC runs observed since start.
 */
import { availableParallelism } from "node:os";
import { PerformanceObserver } from "node:perf_hooks";
import sharp from "sharp";

export interface HealthReport {
  uptime: number;
  allocatedMemory: number;
  totalAllocatedMemory: number;
  goroutines: number;
  completedGCCycles: number;
  cpus: number;
  maxHeapUsage: number;
  heapInUse: number;
  objectsInUse: number;
  OSMemoryObtained: number;
}

export interface StatusSource {
  health(load: { active: number; waiting: number }): HealthReport;
  index(): { imaginary: string; bimg: string; libvips: string };
  stop(): void;
}

const mb = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 100) / 100;

/** Starts counting GC cycles; `stop()` disconnects the observer. */
export function createStatusSource(version: string, now: () => number = Date.now): StatusSource {
  const started = now();
  let gcCycles = 0;
  const observer = new PerformanceObserver((list) => {
    gcCycles += list.getEntries().length;
  });
  observer.observe({ entryTypes: ["gc"] });
  return {
    health(load) {
      const m = process.memoryUsage();
      return {
        uptime: Math.floor((now() - started) / 1000),
        allocatedMemory: mb(m.heapUsed),
        totalAllocatedMemory: mb(m.heapUsed + m.external),
        goroutines: load.active + load.waiting,
        completedGCCycles: gcCycles,
        cpus: availableParallelism(),
        maxHeapUsage: mb(m.heapTotal),
        heapInUse: mb(m.heapUsed),
        objectsInUse: sharp.counters().process,
        OSMemoryObtained: mb(m.rss),
      };
    },
    index: () => ({
      imaginary: `aciimg-backend ${version}`,
      bimg: `sharp ${sharp.versions.sharp ?? "?"}`,
      libvips: sharp.versions.vips,
    }),
    stop: () => observer.disconnect(),
  };
}
