/**
 * The README and the pages under docs/ link to each other by relative paths and #anchors. Every such link must lead
 * to a file that exists and, with an anchor, to a heading of that file (GitHub's anchor for it), and every page
 * under docs/ must be reachable from the README's Documentation index.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const repo = fileURLToPath(new URL("../..", import.meta.url));

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return markdownFiles(path);
    return entry.name.endsWith(".md") ? [path] : [];
  });
}

const pages = [join(repo, "README.md"), ...markdownFiles(join(repo, "docs"))];

/** The lines outside fenced blocks, where headings and links live. */
function prose(markdown: string): string[] {
  const lines: string[] = [];
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^ *```/.test(line)) fenced = !fenced;
    else if (!fenced) lines.push(line);
  }
  return lines;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of prose(markdown)) {
    const heading = /^#{1,6} (.*)$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const text = heading
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .replace(/[`*]/g, "")
      .trim()
      .toLowerCase();
    const base = text.replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** Relative link targets of a page: `[text](target)`, web addresses left out. */
function links(markdown: string): string[] {
  const targets = prose(markdown).flatMap((line) =>
    [...line.replace(/`[^`]*`/g, "").matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? ""),
  );
  return targets.filter((target) => !/^[a-z]+:/i.test(target));
}

const text = new Map(pages.map((page) => [page, readFileSync(page, "utf8")]));

describe("links between the README and docs/", () => {
  it("the anchors are GitHub's: punctuation dropped, code kept, repeats numbered", () => {
    const headings = [
      "# aciimg",
      "### `aciimg process <inputs...>`",
      "### A pool of backends: `--backends N` and `--with-local`",
      "## Setup",
      "## Setup",
    ].join("\n");
    expect([...anchors(headings)]).toEqual([
      "aciimg",
      "aciimg-process-inputs",
      "a-pool-of-backends---backends-n-and---with-local",
      "setup",
      "setup-1",
    ]);
  });

  const table = pages.map((page) => [relative(repo, page), page]);
  it.each(table)("%s: every relative link and #anchor resolves", (_name, page) => {
    const broken: string[] = [];
    for (const target of links(text.get(page) ?? "")) {
      const [path = "", anchor] = target.split("#");
      const file = path === "" ? page : resolve(dirname(page), decodeURI(path));
      if (!existsSync(file)) {
        broken.push(`${target}: no file ${relative(repo, file)}`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!statSync(file).isFile() || !file.endsWith(".md")) broken.push(`${target}: anchor outside Markdown`);
      else if (!anchors(readFileSync(file, "utf8")).has(anchor)) broken.push(`${target}: no such heading`);
    }
    expect(broken).toEqual([]);
  });

  it("every page under docs/ is reachable from the README, and each docs/*.md is in its Documentation index", () => {
    const readme = join(repo, "README.md");
    const reached = new Set([readme]);
    const queue = [readme];
    for (let page = queue.shift(); page !== undefined; page = queue.shift()) {
      for (const target of links(text.get(page) ?? "")) {
        const path = target.split("#")[0] ?? "";
        const file = path === "" ? page : resolve(dirname(page), decodeURI(path));
        if (text.has(file) && !reached.has(file)) {
          reached.add(file);
          queue.push(file);
        }
      }
    }
    expect(pages.filter((page) => !reached.has(page)).map((page) => relative(repo, page))).toEqual([]);
    const readmeText = text.get(readme) ?? "";
    const index = readmeText.slice(readmeText.indexOf("\n## Documentation\n"));
    const topPages = readdirSync(join(repo, "docs")).filter((name) => name.endsWith(".md"));
    expect(topPages.length).toBeGreaterThanOrEqual(7);
    for (const name of topPages) expect(index, `the index links docs/${name}`).toContain(`](docs/${name}`);
  });
});
