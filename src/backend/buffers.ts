/**
 * Reused input buffers for the backend. Every image read into a fresh 1 MB Buffer is external
 * memory V8 counts towards its next garbage collection: a batch of images from the file source
 * made the backend's main thread spend about a quarter of its time collecting. A few buffers,
 * each handed back once the request that read into it is answered, carry a whole batch.
 *
 * A buffer is handed back only after every use of it is over (the handler's `finally`, after the
 * image operation resolved), so one request's bytes are never seen by another.
 */

export interface BufferPool {
  /** A buffer of exactly `size` bytes (contents undefined), pooled when one fits. */
  take(size: number): Buffer;
  /** Gives back a buffer `take` returned; nothing may read or write it afterwards. */
  give(buffer: Buffer): void;
}

/** Largest buffer kept: bigger inputs are allocated and dropped as before. */
const maxPooledBytes = 32 * 1024 * 1024;

/** A pool of at most `keep` buffers (the backend's request slots). */
export function createBufferPool(keep: number): BufferPool {
  const free: ArrayBuffer[] = [];
  return {
    take(size) {
      const index = free.findIndex((buffer) => buffer.byteLength >= size);
      if (index >= 0) {
        const [found] = free.splice(index, 1);
        return Buffer.from(found as ArrayBuffer, 0, size);
      }
      if (size > maxPooledBytes) return Buffer.allocUnsafeSlow(size);
      // A quarter more than asked, so the next image of about this size fits too.
      return Buffer.from(new ArrayBuffer(Math.max(64 * 1024, Math.ceil(size * 1.25))), 0, size);
    },
    give(buffer) {
      const backing = buffer.buffer;
      if (
        !(backing instanceof ArrayBuffer) ||
        backing.byteLength > maxPooledBytes ||
        free.length >= keep ||
        free.includes(backing)
      )
        return;
      free.push(backing);
    },
  };
}
