import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAciimgError } from "../../src/errors.js";
import { temporarySuffix, writeAtomically } from "../../src/cli/batch/outputs.js";
import { fileIdentityOf } from "../../src/protocol/file-identity.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "aciimg-outputs-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * A body of `bytes` in chunks of `chunk` bytes (as a socket
 * delivers an answer), failing after `failAfter` chunks when asked.
 */
function body(bytes: Buffer, chunk: number, failAfter?: number): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0, index = 0; offset < bytes.length; offset += chunk, index++) {
        if (index === failAfter) throw new Error("socket hang up");
        yield bytes.subarray(offset, offset + chunk);
      }
    })(),
    { objectMode: false },
  );
}

async function temporaries(folder: string): Promise<string[]> {
  return (await readdir(folder)).filter((name) => name.endsWith(temporarySuffix));
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isAciimgError(error)).toBe(true);
  return (error as { code: string }).code;
}

describe("writeAtomically", () => {
  it(
    "writes a small answer (one go) and a large one (pieces " + "of 1 MiB) byte for byte, replacing what was there",
    async () => {
      for (const size of [0, 1, 15_000, 1024 * 1024 - 1, 1024 * 1024, 3 * 1024 * 1024 + 17]) {
        const target = join(dir, `out-${size}.jpg`);
        await writeFile(target, "old content");
        const bytes = randomBytes(size);
        expect(await writeAtomically(target, body(bytes, 65_536))).toBe(size);
        expect((await readFile(target)).equals(bytes)).toBe(true);
      }
      expect(await temporaries(dir)).toEqual([]);
    },
  );

  it(
    "an answer that breaks off, small or large, " + "leaves the old file and no temporary, as E_BACKEND_UNREACHABLE",
    async () => {
      for (const [size, failAfter] of [
        [20_000, 1],
        [3 * 1024 * 1024, 40],
      ] as const) {
        const target = join(dir, `broken-${size}.jpg`);
        await writeFile(target, "old content");
        expect(await codeOf(writeAtomically(target, body(randomBytes(size), 16_384, failAfter)))).toBe(
          "E_BACKEND_UNREACHABLE",
        );
        expect(await readFile(target, "utf8")).toBe("old content");
      }
      expect(await temporaries(dir)).toEqual([]);
    },
  );

  it(
    "an answer that goes silent past the body timeout is E_REQUEST_TIMEOUT naming the limit, " +
      "which no route sends again",
    async () => {
      const target = join(dir, "stalled.jpg");
      // What undici's BodyTimeoutError and the socket transport's carry: the code.
      const timedOut = Object.assign(new Error("Body Timeout Error"), {
        name: "BodyTimeoutError",
        code: "UND_ERR_BODY_TIMEOUT",
      });
      const stalled = Readable.from(
        (function* () {
          yield randomBytes(1000);
          throw timedOut;
        })(),
        { objectMode: false },
      );
      const error = await writeAtomically(target, stalled, undefined, 120_000).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({
        code: "E_REQUEST_TIMEOUT",
        detail: { code: "UND_ERR_BODY_TIMEOUT", timeoutMs: 120_000 },
      });
      expect((error as Error).message).toContain("nothing more came within 2m");
      expect((error as Error).message).toContain("--request-timeout");
      expect(await temporaries(dir)).toEqual([]);
    },
  );

  it("a temporary that cannot be created (its folder is gone) is E_OUTPUT, for small and large answers", async () => {
    for (const size of [100, 2 * 1024 * 1024]) {
      expect(await codeOf(writeAtomically(join(dir, "no-such-folder", "x.jpg"), body(randomBytes(size), 65_536)))).toBe(
        "E_OUTPUT",
      );
    }
  });

  it(
    "a rename that fails after the temporary was written (the target is a folder) " +
      "is E_OUTPUT and removes the temporary",
    async () => {
      const target = join(dir, "a-folder.jpg");
      await mkdir(join(target, "inside"), { recursive: true });
      expect(await codeOf(writeAtomically(target, body(randomBytes(500), 100)))).toBe("E_OUTPUT");
      expect(await temporaries(dir)).toEqual([]);
      expect(await readdir(target)).toEqual(["inside"]);
    },
  );

  it(
    "writes an output whose name is near the 255-byte limit (ASCII or multi-byte), " +
      "small or large, leaving no temporary",
    async () => {
      for (const name of [`${"n".repeat(250)}.jpg`, `${"é".repeat(125)}.jpg`]) {
        expect(Buffer.byteLength(name)).toBeGreaterThan(240);
        for (const size of [2_000, 2 * 1024 * 1024]) {
          const bytes = randomBytes(size);
          expect(await writeAtomically(join(dir, name), body(bytes, 65_536))).toBe(size);
          expect((await readFile(join(dir, name))).equals(bytes)).toBe(true);
        }
      }
      expect(await temporaries(dir)).toEqual([]);
    },
  );

  it("writes in place (direct) to a device such as /dev/null, which a rename would replace", async () => {
    const inPlace = { identity: fileIdentityOf(await stat("/dev/null", { bigint: true })), isNamedLink: false };
    const size = 2 * 1024 * 1024 + 5;
    expect(await writeAtomically("/dev/null", body(randomBytes(size), 65_536), inPlace)).toBe(size);
  });

  it("a pipe swapped for a link to a file since planning is replaced; the file is untouched", async () => {
    const target = join(dir, "swapped-pipe.jpg");
    const victim = join(dir, "victim.txt");
    execFileSync("mkfifo", [target]);
    const inPlace = { identity: fileIdentityOf(await stat(target, { bigint: true })), isNamedLink: false };
    await writeFile(victim, "keep me");
    await rm(target);
    await symlink(victim, target);
    const bytes = randomBytes(5000);
    expect(await writeAtomically(target, body(bytes, 1000), inPlace)).toBe(5000);
    expect(await readFile(victim, "utf8")).toBe("keep me");
    expect((await lstat(target)).isFile()).toBe(true);
    expect((await readFile(target)).equals(bytes)).toBe(true);
  });

  // A link named as the output, as /dev/stdout is.
  it("a named link that leads elsewhere since planning is E_OUTPUT, and what it leads to is untouched", async () => {
    const target = join(dir, "named-link");
    const victim = join(dir, "victim-of-link.txt");
    await writeFile(victim, "keep me");
    await symlink("/dev/null", target);
    const inPlace = { identity: fileIdentityOf(await stat(target, { bigint: true })), isNamedLink: true };
    await rm(target);
    await symlink(victim, target);
    expect(await codeOf(writeAtomically(target, body(randomBytes(100), 100), inPlace))).toBe("E_OUTPUT");
    expect(await readFile(victim, "utf8")).toBe("keep me");
    expect((await lstat(target)).isSymbolicLink()).toBe(true);
  });
});
