/**
 * A spawned `aciimg backend` on TCP loopback with its key from the environment, as tests that watch
 * the process itself (its memory, its event loop) need it: resolves once it prints its listening
 * line, with the base URL from that line.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";

const cliPath = fileURLToPath(new URL("../../bin/aciimg.js", import.meta.url));

export interface TcpBackend {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** `http://127.0.0.1:<port>`. */
  base: string;
}

/** Starts `aciimg backend --host 127.0.0.1 --port 0 …extraArgs` with `key`. */
export async function startTcpBackend(key: string, extraArgs: string[] = []): Promise<TcpBackend> {
  const child = spawn(process.execPath, [cliPath, "backend", "--host", "127.0.0.1", "--port", "0", ...extraArgs], {
    env: { PATH: process.env.PATH ?? "", ACIIMG_BACKEND_KEY: key },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stderr.resume();
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) resolve(out.slice(0, out.indexOf("\n")));
    });
    child.once("close", (code) => reject(new Error(`backend exited (${code}) before listening`)));
  });
  return { child, base: (JSON.parse(line) as { listening: { url: string } }).listening.url };
}
