/**
 * Every recipe of the README and of the pages in docs/ that runs without Azure, run exactly as written:
 * each ```sh block by bash (`-e -o pipefail`: every command must succeed, not only the last), the cron line's
 * command by
 * /bin/sh with cron's bare environment, and the CI job's `run:` steps by `bash -e`, as GitHub
 * Actions runs them. Each recipe gets a folder of its own holding the files the recipes name
 * (images made by sharp), `aciimg` on PATH as the built bin, a private HOME (so its own state and
 * local backend) and, as root, a network namespace of its own (unshare), so two `serve --port 8080`
 * recipes, or another test run, never meet on a port (without root, those recipes skip).
 *
 * A block that cannot run here says why in an HTML comment just before it: `<!-- recipe: azure -->`
 * (needs a subscription) or `<!-- recipe: checkout -->` (npm in a checkout: .ci/run runs the quick
 * start as written, library-package.test.ts installs the packed tarball). `exits N` runs a block
 * that is meant to fail with N; `backend up` runs `aciimg up` before it. Every other block is run,
 * so a recipe added to the README or a docs/ page is tested the day it is written.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, openSync, closeSync, readdirSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliPath, jsonLines, outputsIn, until } from "./cli-harness.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
/** The README and the pages of docs/ (not docs/reference/: copies of outside notes, whose commands are not ours). */
const docs = readdirSync(join(repo, "docs"))
  .filter((name) => name.endsWith(".md"))
  .map((name) => `docs/${name}`);
const pages = ["README.md", ...docs];
const readme = readFileSync(join(repo, "README.md"), "utf8");

interface Block {
  /** The page it is in, relative to the repository. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  text: string;
  /** The `<!-- recipe: KIND (why) -->` comment before the block: its kind and its note. */
  mark?: { kind: string; note: string };
}

/** The fenced blocks of a Markdown text, indented ones (in list items) included. */
function fencedBlocks(file: string, markdown: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^( *)```(\S*)\s*$/.exec(lines[i] ?? "");
    if (!open) continue;
    const indent = open[1]?.length ?? 0;
    const body: string[] = [];
    let j = i + 1;
    const unindent = new RegExp(`^ {0,${indent}}`);
    for (; j < lines.length && !/^ *```\s*$/.test(lines[j] ?? ""); j++) {
      body.push((lines[j] ?? "").replace(unindent, ""));
    }
    let k = i - 1;
    while (k >= 0 && (lines[k] ?? "").trim() === "") k--;
    const comment = /^\s*<!-- recipe: ([a-z0-9 ]+?)(?: \((.*)\))? -->\s*$/.exec(lines[k] ?? "");
    const mark = comment ? { kind: comment[1] ?? "", note: comment[2] ?? "" } : undefined;
    blocks.push({ file, line: i + 1, lang: open[2] ?? "", text: `${body.join("\n")}\n`, mark });
    i = j;
  }
  return blocks;
}

/** Blocks that are recipes (commands to run); json, ts and unlabelled blocks are outputs and code. */
const recipeLangs = new Set(["sh", "bash", "cron", "yaml"]);
const otherLangs = new Set(["json", "ts", ""]);
const blocks = pages.flatMap((file) => fencedBlocks(file, readFileSync(join(repo, file), "utf8")));
const recipes = blocks.filter((block) => recipeLangs.has(block.lang));
const notRun = new Set(["azure", "checkout"]);
const runnable = recipes.filter((block) => !notRun.has(block.mark?.kind ?? ""));

/** What a marked block must look like, so a mark cannot hide a recipe that would run here. */
const markRules: Record<string, (block: Block) => boolean> = {
  azure: (block) => /(^|[\s($])az |AZURE_|--backends/m.test(block.text),
  checkout: (block) => commandLines(block.text).every((line) => /^(npm|\.ci\/|scripts\/)/.test(line)),
  "backend up": () => true,
};

/** Logical command lines: `\` continuations joined, comments and blank lines dropped. */
function commandLines(text: string): string[] {
  return text
    .replace(/\\\n\s*/g, " ")
    .split("\n")
    .map((line) => line.replace(/(^|\s)#.*$/, "").trim())
    .filter(Boolean);
}

function expectedExit(block: Block): number {
  const exits = /^exits (\d+)$/.exec(block.mark?.kind ?? "");
  return exits ? Number(exits[1]) : 0;
}

// ---------------------------------------------------------------------------------------------
// Where recipes run

let root: string;
let template: string;
let binDir: string;
const nodeDir = dirname(process.execPath);
const ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].find((path) => existsSync(path));
// A network namespace of its own (`unshare -n`) needs root: anyone else gets one only inside a user
// namespace, where root's folders (/, /tmp) belong to nobody and the CLI rightly refuses its state.
// Without root, recipes run in the machine's network, and those that listen on a port skip.
const isRoot = process.getuid?.() === 0;
const listens = (block: Block): boolean => /\baciimg serve\b/.test(block.text);
/** Brings up the namespace's loopback, then runs the rest of its arguments; as they are without root. */
const inNamespace = (command: string[]): string[] =>
  isRoot
    ? ["unshare", "-n", "/bin/sh", "-c", '"$1" link set lo up && shift && exec "$@"', "sh", ip ?? "ip", ...command]
    : command;

const jpeg = (width: number, height: number, path: string) =>
  sharp({ create: { width, height, channels: 3, background: { r: 40, g: 120, b: 200 } } })
    .jpeg({ quality: 80 })
    .toFile(path);
const png = (width: number, height: number, path: string) =>
  sharp({ create: { width, height, channels: 4, background: { r: 200, g: 80, b: 40, alpha: 0.5 } } })
    .png()
    .toFile(path);

/** The files the recipes name: the shipped sample, and small images under the names they use. */
const templateFiles: Array<[string, (path: string) => Promise<unknown>]> = [
  ["photo.jpg", (p) => jpeg(640, 480, p)],
  ["logo.png", (p) => png(256, 256, p)],
  ["photos/a.jpg", (p) => jpeg(640, 480, p)],
  ["photos/b.JPG", (p) => jpeg(480, 640, p)],
  ["photos/c.png", (p) => png(320, 240, p)],
  ["shots/s1.png", (p) => png(400, 300, p)],
  ["shots/2024/s2.PNG", (p) => png(300, 400, p)],
  ["assets/b.jpg", (p) => jpeg(600, 400, p)],
  ["assets/IMG_0001.JPG", (p) => jpeg(640, 480, p)],
  ["assets/photo.jpeg", (p) => jpeg(480, 640, p)],
  ["assets/icons/logo.png", (p) => png(256, 256, p)],
  ["assets/icons/logo2.PNG", (p) => png(128, 128, p)],
];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "aciimg-readme-"));
  template = join(root, "template");
  binDir = join(root, "bin");
  await mkdir(binDir);
  await symlink(cliPath, join(binDir, "aciimg"));
  await mkdir(join(template, "examples"), { recursive: true });
  await cp(join(repo, "examples", "sample.jpg"), join(template, "examples", "sample.jpg"));
  for (const [name, make] of templateFiles) {
    await mkdir(dirname(join(template, name)), { recursive: true });
    await make(join(template, name));
  }
  const probe = spawnSync(inNamespace(["true"])[0] ?? "", inNamespace(["true"]).slice(1), { encoding: "utf8" });
  if (isRoot && probe.status !== 0) {
    const why = probe.stderr || probe.error?.message;
    throw new Error(`the README recipes run in a network namespace of their own (unshare, iproute2's ip): ${why}`);
  }
}, 60_000);
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

interface RecipeRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The folder the recipe ran in. */
  dir: string;
}

interface Place {
  dir: string;
  home: string;
  env: Record<string, string>;
}

/** A folder with the template's files, a private HOME, and the environment a user's shell gives. */
async function place(name: string): Promise<Place> {
  const base = await mkdtemp(join(root, `${name}-`));
  const dir = join(base, "work");
  const home = join(base, "home");
  await cp(template, dir, { recursive: true });
  await mkdir(home, { mode: 0o700 });
  const env = {
    PATH: `${binDir}:${nodeDir}:/usr/local/bin:/usr/bin:/bin`,
    HOME: home,
    LANG: "C.UTF-8",
    TMPDIR: tmpdir(),
    npm_config_update_notifier: "false",
  };
  return { dir, home, env };
}

/**
 * Runs `command` in the place's own network namespace and process group. Whatever it left running
 * (a `serve &`) is stopped with SIGTERM once it exits, and waited for.
 */
async function runInPlace(where: Place, command: string[], env = where.env, timeoutMs = 90_000): Promise<RecipeRun> {
  const outPath = join(where.dir, "..", `out-${Date.now()}-${Math.random()}`);
  const out = openSync(`${outPath}.stdout`, "w");
  const err = openSync(`${outPath}.stderr`, "w");
  const full = inNamespace(command);
  const child = spawn(full[0] ?? "", full.slice(1), {
    cwd: where.dir,
    env,
    detached: true,
    stdio: ["ignore", out, err],
  });
  closeSync(out);
  closeSync(err);
  const group = child.pid ?? 0;
  const timer = setTimeout(() => signalGroup(group, "SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (exitCode) => resolve(exitCode));
  });
  clearTimeout(timer);
  signalGroup(group, "SIGTERM");
  await until(() => !groupAlive(group), `the recipe's processes (group ${group}) to end`, 30_000).catch(() =>
    signalGroup(group, "SIGKILL"),
  );
  const stdout = await readFile(`${outPath}.stdout`, "utf8");
  return { code, stdout, stderr: await readFile(`${outPath}.stderr`, "utf8"), dir: where.dir };
}

function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal);
  } catch {
    // the group is gone already
  }
}

function groupAlive(group: number): boolean {
  try {
    process.kill(-group, 0);
    return true;
  } catch {
    return false;
  }
}

/** `aciimg <args>` in the place, outside the recipe (its setup and its clean-up). */
function aciimg(where: Place, args: string[], env = where.env): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: where.dir,
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (data: Buffer) => (stderr += data.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

// ---------------------------------------------------------------------------------------------
// Running each kind of recipe

async function runShellBlock(block: Block, where: Place): Promise<RecipeRun> {
  if (block.mark?.kind === "backend up") {
    const up = await aciimg(where, ["up"]);
    expect(up.code, up.stderr).toBe(0);
  }
  return runInPlace(where, ["bash", "-e", "-o", "pipefail", "-c", block.text]);
}

/** Each job's command, as cron runs it: /bin/sh, HOME and a PATH with node only, in HOME. */
async function runCronBlock(block: Block, where: Place): Promise<RecipeRun> {
  const jobs = block.text.split("\n").filter((line) => line.trim() && !line.startsWith("#") && !/^\w+=/.test(line));
  expect(jobs.length, "a cron block has a job line").toBeGreaterThan(0);
  // The installed copy the job calls: what `npm install <tarball>` in ~/aciimg leaves there.
  const installed = join(where.home, "aciimg");
  await mkdir(join(installed, "node_modules", ".bin"), { recursive: true });
  await symlink(repo, join(installed, "node_modules", "aciimg"));
  await symlink(join("..", "aciimg", "bin", "aciimg.js"), join(installed, "node_modules", ".bin", "aciimg"));
  const cronEnv = { HOME: where.home, LOGNAME: "aciimg-test", SHELL: "/bin/sh", PATH: `${nodeDir}:/usr/bin:/bin` };
  // A backend to leave alone: one used just now is not idle.
  const up = await aciimg(where, ["up"], { ...cronEnv, PATH: where.env.PATH ?? "" });
  expect(up.code, up.stderr).toBe(0);
  let last: RecipeRun | undefined;
  for (const job of jobs) {
    const command = job.trim().split(/\s+/).slice(5).join(" ");
    last = await runInPlace({ ...where, dir: where.home }, ["/bin/sh", "-c", command], cronEnv);
    if (last.code !== 0) break;
  }
  return { ...(last as RecipeRun), dir: where.dir };
}

/**
 * A GitHub Actions job: `uses:` steps are what the place already is (the checkout, a Node); `npm ci`
 * is the install, done as npm leaves it (node_modules/aciimg and its bin); every other `run:` runs
 * with `bash -e`, and after a failure only the `if: always()` steps run.
 */
async function runWorkflowBlock(block: Block, where: Place): Promise<RecipeRun> {
  const steps = block.text.split(/\n(?= +- )/).filter((step) => /^\s*- /.test(step));
  expect(steps.length, "the job has steps").toBeGreaterThan(0);
  const env = { ...where.env, PATH: `${nodeDir}:/usr/local/bin:/usr/bin:/bin`, CI: "true", GITHUB_ACTIONS: "true" };
  let failed: RecipeRun | undefined;
  let stdout = "";
  let stderr = "";
  for (const step of steps) {
    const run = /^\s*(?:- )?run: (.+)$/m.exec(step)?.[1];
    if (run === undefined) continue;
    expect(run, "a run: step on one line (`run: |` is not read here yet)").not.toMatch(/^[|>]/);
    if (failed && !/^\s*(?:- )?if: always\(\)\s*$/m.test(step)) continue;
    if (run.trim() === "npm ci") {
      await mkdir(join(where.dir, "node_modules", ".bin"), { recursive: true });
      await symlink(repo, join(where.dir, "node_modules", "aciimg"));
      await symlink(join("..", "aciimg", "bin", "aciimg.js"), join(where.dir, "node_modules", ".bin", "aciimg"));
      continue;
    }
    const result = await runInPlace(where, ["bash", "-e", "-c", run], env);
    stdout += result.stdout;
    stderr += result.stderr;
    if (result.code !== 0 && !failed) failed = result;
  }
  return { code: failed?.code ?? 0, stdout, stderr, dir: where.dir };
}

function runBlock(block: Block, where: Place): Promise<RecipeRun> {
  if (block.lang === "cron") return runCronBlock(block, where);
  if (block.lang === "yaml") return runWorkflowBlock(block, where);
  return runShellBlock(block, where);
}

// ---------------------------------------------------------------------------------------------
// What recipes promise

/** Every output a command line names (`-o X`, a final `> X`) exists and holds something. */
async function expectNamedOutputs(block: Block, run: RecipeRun): Promise<void> {
  for (const line of commandLines(block.text)) {
    const targets = [
      ...[...line.matchAll(/(?:^|\s)(?:-o|--output)\s+(\S+)/g)].map((m) => m[1] ?? ""),
      ...[...line.matchAll(/(?:^|[^>&\d])>\s*(\S+)\s*$/g)].map((m) => m[1] ?? ""),
    ].map((target) => target.replace(/^['"]|['"]$/g, ""));
    for (const target of targets) {
      const path = join(run.dir, target);
      const info = await stat(path).catch(() => undefined);
      expect(info, `${target}, named by \`${line}\`, exists`).toBeDefined();
      if (info?.isDirectory()) {
        expect((await readdir(path, { recursive: true })).length, `${target} holds files`).toBeGreaterThan(0);
      } else expect(info?.size, `${target} is not empty`).toBeGreaterThan(0);
    }
  }
}

const image = async (run: RecipeRun, path: string) => {
  const { format, width, height, pages } = await sharp(join(run.dir, path)).metadata();
  return { format, width, height, ...(pages && pages > 1 ? { pages } : {}) };
};

/** Promises of particular recipes, each found by a piece of its text (which must still be in a run recipe). */
const promises: Array<{ text: string; check: (run: RecipeRun) => Promise<void> }> = [
  {
    text: "aciimg process examples/sample.jpg --resize 300x200 -o out/",
    check: async (run) =>
      expect(await image(run, "out/sample.jpg")).toEqual({ format: "jpeg", width: 300, height: 200 }),
  },
  {
    text: "aciimg process photos/ --fit 1024x1024 --type webp --quality 80 -o web/",
    check: async (run) => {
      expect(await outputsIn(join(run.dir, "web"))).toEqual(["a.webp", "b.webp", "c.webp"]);
      expect(await image(run, "web/b.webp")).toEqual({ format: "webp", width: 480, height: 640 });
    },
  },
  {
    text: "aciimg process 'shots/**/*.png' --smartcrop 200x200 -o thumbs/",
    check: async (run) => {
      expect(await image(run, "thumbs/s1.png")).toEqual({ format: "png", width: 200, height: 200 });
      expect(await image(run, "thumbs/2024/s2.PNG")).toEqual({ format: "png", width: 200, height: 200 });
    },
  },
  {
    text: "--crop 800x800 --blur 2 --type webp -o blurred.webp",
    check: async (run) => expect(await image(run, "blurred.webp")).toEqual({ format: "webp", width: 800, height: 800 }),
  },
  {
    text: "--op zoom --param factor=2 -o zoomed.jpg",
    check: async (run) => expect(await image(run, "zoomed.jpg")).toEqual({ format: "jpeg", width: 3600, height: 2400 }),
  },
  {
    text: "aciimg process - --thumbnail 150 > thumb.jpg",
    check: async (run) => expect(await image(run, "thumb.jpg")).toMatchObject({ format: "jpeg", width: 150 }),
  },
  {
    text: `--json | jq -c 'select(.status=="failed")'`,
    check: async (run) => {
      expect(run.stdout).not.toMatch(/"status":"failed"/);
      expect((await readdir(join(run.dir, "out"))).sort()).toEqual(expect.arrayContaining(["a.jpg", "b.JPG", "c.png"]));
    },
  },
  {
    text: "aciimg status --json | jq .reapInMs",
    check: async (run) => expect(Number(run.stdout.trim().split("\n").at(-1))).toBeGreaterThan(0),
  },
  {
    text: "aciimg process photo.jpg --resize 300by200 -o out/ --json",
    check: async (run) => {
      const message = '--resize: expected WxH such as 300x200, got "300by200"';
      expect(jsonLines(run.stdout)).toEqual([{ error: { code: "E_USAGE", message } }]);
    },
  },
  {
    text: "'http://127.0.0.1:8080/resize?width=300&height=200' > small.jpg",
    check: async (run) => expect(await image(run, "small.jpg")).toEqual({ format: "jpeg", width: 300, height: 200 }),
  },
  {
    text: "'http://127.0.0.1:8080/info'",
    check: async (run) => expect(JSON.parse(run.stdout)).toMatchObject({ width: 1200, height: 800, type: "jpeg" }),
  },
  {
    text: "--cacert cert.pem",
    check: async (run) => expect(await image(run, "small.jpg")).toEqual({ format: "jpeg", width: 300, height: 200 }),
  },
  {
    // "thumbnails for every image in the repository", in whatever case their extensions are
    text: "npx aciimg process 'assets/**/*.{jpg,jpeg,png}' --fit 400x400",
    check: async (run) => {
      const report = jsonLines(await readFile(join(run.dir, "report.jsonl"), "utf8"));
      const inputs = ["IMG_0001.JPG", "b.jpg", "icons/logo.png", "icons/logo2.PNG", "photo.jpeg"].map(
        (name) => `assets/${name}`,
      );
      const statuses = report.filter((line) => "input" in line).map((line) => [line.input, line.status]);
      expect(statuses.sort()).toEqual(inputs.map((input) => [input, "ok"]));
      expect(report.at(-1)).toMatchObject({ summary: { total: 5, ok: 5, failed: 0 } });
      expect(await image(run, "thumbs/IMG_0001.webp")).toEqual({ format: "webp", width: 400, height: 300 });
      expect(await image(run, "thumbs/photo.webp")).toEqual({ format: "webp", width: 300, height: 400 });
    },
  },
  {
    // The README's responsive images: each width up to the image's own, in WebP and JPEG, and the manifest.
    text: "npx aciimg process 'assets/**/*.{jpg,jpeg,png}' --width 320,640,1280",
    check: async (run) => {
      const report = jsonLines(await readFile(join(run.dir, "report.jsonl"), "utf8"));
      // IMG_0001 640 wide: 320, 640; b 600: 320, 600; photo 480: 320, 480; the logos (256, 128): one each.
      expect(report.at(-1)).toMatchObject({ summary: { total: 16, inputs: 5, ok: 16, failed: 0 } });
      expect(await image(run, "web/b-600w.webp")).toEqual({ format: "webp", width: 600, height: 400 });
      expect(await image(run, "web/icons/logo2-128w.jpg")).toEqual({ format: "jpeg", width: 128, height: 128 });
      const manifest = JSON.parse(await readFile(join(run.dir, "web", "images.json"), "utf8"));
      const outputs = manifest.inputs.flatMap((input: { outputs: Array<{ path: string }> }) => input.outputs);
      expect(outputs.map((output: { path: string }) => output.path).sort()).toEqual(
        report
          .filter((line) => "output" in line)
          .map((line) => String(line.output).slice("web/".length))
          .sort(),
      );
    },
  },
  {
    // The manifest to <picture> markup: one per image, each source listing its widths.
    text: "jq -r '.inputs[] | (.outputs | group_by(.format)",
    check: async (run) => {
      // The process line before it prints its ok lines on stdout too.
      const pictures = run.stdout.split("\n").filter((line) => line.startsWith("<picture>"));
      expect(pictures).toHaveLength(3);
      expect(pictures[0]).toBe(
        '<picture><source type="image/webp" srcset="web/a-320w.webp 320w, web/a-640w.webp 640w">' +
          '<img srcset="web/a-320w.jpg 320w, web/a-640w.jpg 640w" alt=""></picture>',
      );
    },
  },
  {
    text: `reap --idle 5m >> "$HOME/.local/state/aciimg/reap.log" 2>&1`,
    // reap prints nothing when there is nothing to do: no notice of npm's, no error.
    check: async (run) => {
      const log = join(run.dir, "..", "home", ".local", "state", "aciimg", "reap.log");
      expect(await readFile(log, "utf8")).toBe("");
    },
  },
];

// ---------------------------------------------------------------------------------------------

describe("README and docs/ recipes", () => {
  it("every shell, cron and YAML block is run here, or marked with why it cannot be", () => {
    const unknown = blocks.filter((block) => !recipeLangs.has(block.lang) && !otherLangs.has(block.lang));
    const where = (block: Block) => `${block.file}:${block.line}`;
    expect(
      unknown.map((block) => `${where(block)}: ${block.lang}`),
      "blocks in a language not classified here",
    ).toEqual([]);
    for (const block of recipes) {
      const kind = block.mark?.kind;
      if (kind === undefined || /^exits \d+$/.test(kind)) continue;
      expect(Object.keys(markRules), `${where(block)}: a known mark`).toContain(kind);
      const looksSo = markRules[kind]?.(block);
      expect(looksSo, `${where(block)}: marked "${kind}", but it does not look so:\n${block.text}`).toBe(true);
    }
    expect(runnable.length).toBeGreaterThan(10);
    // The reference pages hold recipes too (the CI job, the serve commands), and they are run.
    expect(new Set(runnable.map((block) => block.file))).toEqual(
      new Set(["README.md", "docs/azure.md", "docs/cli.md", "docs/configuration.md", "docs/serve-and-functions.md"]),
    );
  });

  it("the quick start, marked as run by .ci/run, is run there as written", () => {
    const heading = readme.slice(0, readme.indexOf("## Quick start")).split("\n").length;
    const quickStart = recipes.find((block) => block.file === "README.md" && block.line > heading);
    expect(quickStart?.mark).toEqual({ kind: "checkout", note: ".ci/run runs this block as written" });
    const ciRun = readFileSync(join(repo, ".ci", "run"), "utf8");
    expect(ciRun).toContain("/^## Quick start/");
    expect(ciRun).toContain('bash -e -c "$quick_start"');
  });

  it("each promise checked below belongs to a recipe that is run", () => {
    for (const { text } of promises)
      expect(
        runnable.some((block) => block.text.includes(text)),
        text,
      ).toBe(true);
  });

  const table = runnable.map(
    (block) => [`${block.file}:${block.line}: ${commandLines(block.text)[0] ?? ""}`, block] as const,
  );
  const options = { concurrent: true, timeout: 150_000 };
  it.for(table)("%s: runs as written, with the outcome it promises", options, async ([, block], context) => {
    if (!isRoot && listens(block)) {
      return context.skip("needs root: listens on a fixed port, in a network namespace of its own (unshare -n)");
    }
    // Short: the folder is part of the local backend's socket path, which holds at most 107 bytes.
    const where = await place(`p${pages.indexOf(block.file)}-${block.line}`);
    try {
      const run = await runBlock(block, where);
      expect(run.code, `exit code\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`).toBe(expectedExit(block));
      if (expectedExit(block) === 0) await expectNamedOutputs(block, run);
      for (const promise of promises.filter((p) => block.text.includes(p.text))) await promise.check(run);
    } finally {
      await aciimg(where, ["down"]);
    }
  });
});
