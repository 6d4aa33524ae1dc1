/**
 * sharesMountNamespace decides whether the local backend may read the CLI's inputs itself: a
 * backend that sees other files at the same paths (another mount namespace, as under systemd's
 * PrivateTmp) must be sent the bytes. As any user: as root the other namespace is `unshare -m`'s,
 * as anyone else `unshare -Urm`'s (a user namespace of its own), which the e2e test cannot use.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { afterEach, expect, it } from "vitest";
import { sharesMountNamespace } from "../../src/host-process.js";
import { isRoot } from "../helpers/users.js";

const started: ChildProcess[] = [];
afterEach(() => {
  for (const child of started.splice(0)) child.kill("SIGKILL");
});

/** A process that says "ready" once `prefix` (unshare, if any) has run, then sleeps; or why it cannot start. */
async function sleeper(prefix: string[]): Promise<{ pid: number } | string> {
  const argv = [...prefix, "/bin/sh", "-c", "echo ready && exec sleep 600"];
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  started.push(child);
  let output = "";
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => {
    child.stdout.once("data", () => resolve({ pid: child.pid as number }));
    child.once("error", (error) => resolve(`${argv[0]} cannot run here: ${error.message}`));
    child.once("close", (code) => resolve(`${argv.join(" ")} exited (${code}): ${output.trim()}`));
  });
}

it("tells a process in another mount namespace from one in ours", async (context) => {
  expect(sharesMountNamespace(process.pid)).toBe(true);
  const sibling = await sleeper([]);
  if (typeof sibling === "string") throw new Error(sibling);
  expect(sharesMountNamespace(sibling.pid)).toBe(true);
  const other = await sleeper(isRoot ? ["unshare", "-m"] : ["unshare", "-Urm"]);
  if (typeof other === "string") return context.skip(`no mount namespace of its own here: ${other}`);
  expect(sharesMountNamespace(other.pid)).toBe(false);
});
