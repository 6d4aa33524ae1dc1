/**
 * aciimg as a library, the way a user gets it: `npm pack`, a throwaway project installs the tarball,
 * imports `aciimg` by name, type-checks with tsc, and processes an image on the local provider. The
 * README's "Use it from code" example is that project's code, so the example cannot rot. The package
 * exports what a user opens, calls and catches, and nothing of the parts they are made of.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import sharp from "sharp";
import { afterAll, beforeAll, expect, test } from "vitest";

const run = promisify(execFile);
const repo = fileURLToPath(new URL("../..", import.meta.url));
const tsc = join(repo, "node_modules", "typescript", "bin", "tsc");
let dir: string;
let project: string;

/** Every value `aciimg` exports: a new one is a decision, made here and in README "Use it from code". */
const publicNames = [
  "AciimgError",
  "createAciProvider",
  "createBlobStateStore",
  "createFileStateStore",
  "createLocalProvider",
  "errorCodes",
  "isAciimgError",
  "loadConfig",
  "openEngine",
  "openPool",
  "openProvider",
  "openStore",
  "processImage",
];

/** The parts the public functions are made of: each must fail to import, by type as well as at run time. */
const internalNames = [
  "createPool",
  "isVanished",
  "startBackend",
  "startHttpServer",
  "createImaginaryClient",
  "backendSpecOf",
  "createEngine",
];

/** A consumer's file that uses the public types and would import the internals, each expected to fail. */
const typesFile = `import type {
  AciimgErrorOptions, BackendRecord, Config, Engine, ErrorCode, LocalProviderOptions, OpenOptions, Pool, PoolSlot,
  ProcessedImage, ProcessImageRequest, Provider, StateStore,
} from "aciimg";
import { AciimgError, createLocalProvider, errorCodes, openPool, type AciProviderOptions } from "aciimg";
${internalNames.map((name) => `// @ts-expect-error internal\nimport { ${name} } from "aciimg";`).join("\n")}

export const code: ErrorCode = "E_USAGE";
export const exitCode: number = errorCodes[code];
export const error = new AciimgError(code, "x", { cause: new Error("y") } satisfies AciimgErrorOptions);
export const local = (options: LocalProviderOptions): Provider => createLocalProvider(options);
export async function slotOf(config: Config, signal: AbortSignal): Promise<PoolSlot> {
  const window = (record: BackendRecord) => record.spec.cpu * 2;
  const pool: Pool = await openPool(config, { initialWindow: window }, {} as OpenOptions);
  await pool.start(signal);
  return pool.acquire(signal);
}
export type Used = [Engine, StateStore, ProcessImageRequest, ProcessedImage, AciProviderOptions];
`;

/** The README's example: the first ```ts block under "## Use it from code". */
async function readmeExample(): Promise<string> {
  const readme = await readFile(join(repo, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Use it from code"));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error('README has no ```ts example under "## Use it from code"');
  return code;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "aciimg-library-"));
  project = join(dir, "consumer");
  // --ignore-scripts: `npm test` has built dist/ already, and a rebuild would rewrite files other
  // test files are running from.
  const packed = await run("npm", ["pack", repo, "--ignore-scripts", "--pack-destination", dir, "--json"], {
    cwd: dir,
  });
  const tarball = join(dir, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]?.filename ?? "");
  await run("mkdir", ["-p", project]);
  await writeFile(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  await run("npm", ["install", tarball, "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], {
    cwd: project,
    timeout: 150_000,
  });
  await writeFile(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        outDir: "out",
        skipLibCheck: false,
        types: ["node"],
        typeRoots: [join(repo, "node_modules", "@types")],
      },
      include: ["index.ts", "types.ts"],
    }),
  );
}, 180_000);
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("the packed package installs, type-checks by name (public types only) and processes an image", async () => {
  await writeFile(join(project, "index.ts"), await readmeExample());
  await writeFile(join(project, "types.ts"), typesFile);
  const checked = await run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: project }).catch(
    (error: { stdout?: string; stderr?: string }) => error,
  );
  expect("stdout" in checked ? `${checked.stdout ?? ""}${checked.stderr ?? ""}` : "").toBe("");
  await sharp({ create: { width: 640, height: 480, channels: 3, background: "#4080c0" } })
    .jpeg()
    .toFile(join(project, "photo.jpg"));
  const env = { PATH: process.env.PATH ?? "", HOME: project, ACIIMG_STATE: join(project, "state", "state.json") };
  const result = await run(process.execPath, ["out/index.js"], { cwd: project, env, timeout: 60_000 });
  expect(result.stderr).toBe("");
  expect(await sharp(join(project, "small.webp")).metadata()).toMatchObject({
    format: "webp",
    width: 300,
    height: 200,
  });
}, 120_000);

test("`aciimg` exports exactly the public names, and none of the internal parts", async () => {
  const probe = 'const m = await import("aciimg"); console.log(JSON.stringify(Object.keys(m).sort()))';
  const keys = await run(process.execPath, ["--input-type=module", "-e", probe], { cwd: project });
  expect(JSON.parse(keys.stdout) as string[]).toEqual([...publicNames].sort());
  expect(publicNames.filter((name) => internalNames.includes(name))).toEqual([]);
}, 60_000);

test("`aciimg/functions` is the Functions app; `aciimg` itself registers nothing", async () => {
  const library = await run(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      'const m = await import("aciimg"); console.log(typeof m.openEngine, typeof m.processImage, typeof m.AciimgError)',
    ],
    { cwd: project },
  );
  expect(library.stdout.trim()).toBe("function function function");
  expect(library.stderr).toBe("");
  const functions = await run(process.execPath, ["--input-type=module", "-e", 'await import("aciimg/functions")'], {
    cwd: project,
  });
  // Outside the Functions host, @azure/functions says it skips registering each function.
  expect(functions.stderr).toMatch(/register function "process"/);
  expect(functions.stderr).toMatch(/register function "cleanup"/);
}, 60_000);
