// A link emulator for the benchmarks: a TCP proxy on its own loopback address that forwards to a
// backend and makes the path between look like a WAN link. Each chunk waits its turn to be
// "serialized" at the link's rate (one FIFO per direction, shared by every connection on that
// link, as a real link is), then travels for half the round trip. TLS passes through untouched:
// the CLI pins the backend's certificate, so this works below TLS, on bytes.
//
//   const link = createLink({ rttMs: 40, mbitPerSecond: 200 });
//   const proxy = await startLinkProxy({ host: "127.1.2.3", port: 9000, target: { host, port }, link: () => link });
import { once } from "node:events";
import { createServer, connect } from "node:net";

/** Bytes a connection may have queued on the link (per direction) before its source is paused. */
const maxQueuedBytes = 4 << 20;

/**
 * One emulated link: a round trip and a rate, each direction with its own FIFO (`up`: client to
 * backend, `down`: backend to client). `bytes` counts what crossed it, per direction.
 */
export function createLink({ rttMs, mbitPerSecond }) {
  const bytesPerMs = (mbitPerSecond * 1e6) / 8 / 1000;
  const direction = () => ({ freeAt: 0, bytes: 0 });
  return {
    rttMs,
    mbitPerSecond,
    up: direction(),
    down: direction(),
    /** When a chunk of `size` bytes sent now in `dir` arrives at the far end (performance.now() ms). */
    schedule(dir, size) {
      const now = performance.now();
      const start = Math.max(now, dir.freeAt);
      dir.freeAt = start + size / bytesPerMs;
      dir.bytes += size;
      return dir.freeAt + rttMs / 2;
    },
  };
}

/**
 * Moves bytes from `from` to `to` across `linkOf()`'s `side`, in order, pausing `from` while more
 * than maxQueuedBytes wait (so a fast sender meets backpressure, as it would from TCP). Nothing
 * arrives before `notBefore` (ms): the client's first bytes wait for the TCP handshake.
 */
function pipeOverLink(from, to, linkOf, side, notBefore = 0) {
  let queued = 0;
  // Arrival times on one link only increase, so one FIFO and one timer keep the bytes in order.
  const pending = [];
  let timer;
  const drain = () => {
    timer = undefined;
    const now = performance.now();
    while (pending.length > 0 && pending[0].arrival <= now + 0.5) pending.shift().action();
    if (pending.length > 0) timer = setTimeout(drain, pending[0].arrival - now);
  };
  const deliverAt = (arrival, action) => {
    pending.push({ arrival, action });
    if (timer === undefined) timer = setTimeout(drain, Math.max(0, arrival - performance.now()));
  };
  from.on("data", (chunk) => {
    const link = linkOf();
    const arrival = Math.max(link.schedule(link[side], chunk.length), notBefore);
    queued += chunk.length;
    if (queued > maxQueuedBytes) from.pause();
    deliverAt(arrival, () => {
      queued -= chunk.length;
      if (!to.destroyed) to.write(chunk);
      if (queued <= maxQueuedBytes && from.isPaused()) from.resume();
    });
  });
  // The FIN travels too, half a round trip.
  from.on("end", () => deliverAt(performance.now() + linkOf().rttMs / 2, () => to.end()));
}

/**
 * Listens on `host:port` and forwards each connection to `target` over the link `linkOf()` gives
 * (asked per chunk, so a bench can switch a member between its own link and a shared one between
 * runs). Reports the peak number of connections open at once: the client opens one per request
 * in flight, so it is the most requests the member had in flight (its window at its widest).
 */
export async function startLinkProxy({ host, port, target, linkOf }) {
  const sockets = new Set();
  let peakConnections = 0;
  let connections = 0;
  const server = createServer({ noDelay: true }, (client) => {
    const backend = connect({ host: target.host, port: target.port, noDelay: true });
    sockets.add(client);
    sockets.add(backend);
    connections += 1;
    peakConnections = Math.max(peakConnections, sockets.size / 2);
    const close = () => {
      if (!client.destroyed) client.destroy();
      if (!backend.destroyed) backend.destroy();
      sockets.delete(client);
      sockets.delete(backend);
    };
    client.on("error", close);
    backend.on("error", close);
    client.on("close", close);
    backend.on("close", close);
    // The kernel completed the handshake at once; on the link the client's first bytes would
    // leave after the SYN/SYN-ACK round trip and arrive half a round trip later.
    const rttMs = linkOf().rttMs;
    pipeOverLink(client, backend, linkOf, "up", performance.now() + 1.5 * rttMs);
    pipeOverLink(backend, client, linkOf, "down");
  });
  server.listen(port, host);
  await once(server, "listening");
  return {
    host,
    port: server.address().port,
    /** The most connections open at once since the last reset. */
    peakConnections: () => peakConnections,
    /** Connections accepted since the last reset. */
    connections: () => connections,
    reset() {
      peakConnections = sockets.size / 2;
      connections = 0;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

/**
 * Measures a link made with `params` through a proxy on `host`: the median of 5 round trips of
 * 1 byte over an open connection, the time to the first reply byte on a new connection (handshake
 * included), and the rate of a `bulkBytes` upload (first byte sent to the sink's 1-byte receipt,
 * minus one round trip). Loopback only; bounded by a 30 s timeout.
 */
export async function checkLink(params, { host = "127.0.0.1", bulkBytes = 16 << 20 } = {}) {
  const link = createLink(params);
  // An echo of single bytes, and a sink that answers one byte once `bulkBytes` arrived.
  const target = createServer((socket) => {
    let received = 0;
    socket.on("data", (chunk) => {
      if (chunk.length === 1 && received === 0) return void socket.write(chunk);
      received += chunk.length;
      if (received >= bulkBytes) socket.write("k");
    });
    socket.on("error", () => socket.destroy());
  });
  target.listen(0, host);
  await once(target, "listening");
  const proxy = await startLinkProxy({
    host,
    port: 0,
    target: { host, port: target.address().port },
    linkOf: () => link,
  });
  const timeout = AbortSignal.timeout(30_000);
  try {
    const connectedAt = performance.now();
    const socket = connect({ host, port: proxy.port, noDelay: true });
    await once(socket, "connect", { signal: timeout });
    const reply = () => once(socket, "data", { signal: timeout });
    socket.write("p");
    await reply();
    const firstReplyMs = performance.now() - connectedAt;
    const rtts = [];
    for (let i = 0; i < 5; i++) {
      const sent = performance.now();
      socket.write("p");
      await reply();
      rtts.push(performance.now() - sent);
    }
    const bulk = Buffer.alloc(bulkBytes, 7);
    const sent = performance.now();
    socket.write(bulk);
    await reply();
    const seconds = (performance.now() - sent - params.rttMs) / 1000;
    socket.destroy();
    return {
      rttMs: rtts.sort((a, b) => a - b)[2],
      firstReplyMs,
      mbitPerSecond: (bulkBytes * 8) / 1e6 / seconds,
    };
  } finally {
    await proxy.close();
    target.close();
  }
}
