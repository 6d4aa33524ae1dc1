// The floor of bench/batch.mjs: the least any client in its own process can cost. It asks the
// backend `aciimg up` left running (the bench's state, ACIIMG_STATE) for every file of a directory
// exactly as `aciimg process --resize 300x200` asks it (GET /resize?width=300&height=200&file=…,
// keep-alive, over its socket) and writes each answer with one writeFileSync. No planning, no
// checks, no atomic writes, no report: what is left is node's start-up, the socket and the
// backend, the part of the gap to sharp that no change to the CLI can remove.
// The socket and key are read from the state file, so the key is on no command line.
//
//   ACIIMG_STATE=… node bench/floor-client.mjs <in-dir> <out-dir> --concurrency N
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { basename, join, relative } from "node:path";

const [inDir, outDir, ...rest] = process.argv.slice(2);
const concurrency = Number(rest[rest.indexOf("--concurrency") + 1] ?? 2) || 2;
const { backends } = JSON.parse(readFileSync(process.env.ACIIMG_STATE, "utf8"));
const backend = backends.default;
if (!backend?.endpoint?.startsWith("unix:") || backend.fileRoot === undefined)
  throw new Error("floor-client: no local backend with a file root in the state; run `aciimg up` first");
const socketPath = backend.endpoint.slice("unix:".length);
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const files = readdirSync(inDir)
  .sort()
  .map((name) => join(inDir, name));
mkdirSync(outDir, { recursive: true });

/** One image: resolves once its answer is on disk; a non-200 answer fails the run. */
const one = (file) =>
  new Promise((resolve, reject) => {
    const name = encodeURIComponent(encodeURIComponent(relative(backend.fileRoot, file)));
    const path = `/resize?width=300&height=200&file=${name}`;
    const req = request({ socketPath, agent, path, headers: { "API-Key": backend.apiKey } }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        if (res.statusCode !== 200)
          return reject(new Error(`floor-client: ${file}: ${res.statusCode} ${Buffer.concat(chunks)}`));
        writeFileSync(join(outDir, basename(file)), Buffer.concat(chunks));
        resolve();
      });
    });
    req.on("error", reject);
    req.end();
  });

let next = 0;
await Promise.all(
  Array.from({ length: Math.min(concurrency, files.length) }, async () => {
    for (let i = next++; i < files.length; i = next++) await one(files[i]);
  }),
);
agent.destroy();
