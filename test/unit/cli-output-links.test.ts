/**
 * The kernel's protected_symlinks rule as output-links.ts applies it, on real folders and links.
 * Links owned by another user need root (lchown); without it the tests skip, saying so.
 */
import { chmod, lchown, mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { untrustedLinkOn } from "../../src/cli/batch/output-links.js";

const nobody = 65534;
const isRoot = process.getuid?.() === 0;
let dir: string;
let sticky: string;
let open: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "aciimg-links-"));
  sticky = join(dir, "sticky");
  open = join(dir, "open");
  await mkdir(join(dir, "mine", "sub"), { recursive: true });
  await mkdir(sticky);
  await mkdir(open);
  await chmod(sticky, 0o1777);
  await chmod(open, 0o777);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A link at `path` to `target`, owned by `uid`. */
async function link(target: string, path: string, uid: number): Promise<void> {
  await symlink(target, path);
  await lchown(path, uid, uid);
}

describe.runIf(isRoot)("untrustedLinkOn (needs root: links owned by nobody)", () => {
  it("finds another user's link in a sticky folder, through a link of ours, by a relative target", async () => {
    await link(join(dir, "mine"), join(sticky, "theirs"), nobody);
    await link("theirs", join(sticky, "ours-to-theirs"), 0);
    await link(join(sticky, "ours-to-theirs"), join(dir, "entry"), 0);
    const found = { link: join(sticky, "theirs"), owner: nobody, folder: sticky };
    for (const path of [join(sticky, "theirs"), join(sticky, "theirs", "sub", "new"), join(dir, "entry", "sub")]) {
      expect(await untrustedLinkOn(path), path).toEqual(found);
    }
  });

  // As the kernel's rule does, for links in folders that are not sticky.
  it("follows our own links there and links in folders that are not sticky; stops at what is missing", async () => {
    await link(join(dir, "mine"), join(sticky, "ours"), 0);
    await link(join(dir, "mine"), join(open, "theirs"), nobody);
    const paths = [
      join(sticky, "ours", "sub"),
      join(open, "theirs", "sub"),
      join(sticky, "missing", "deeper"),
      join(dir, "mine", "..", "mine"),
    ];
    for (const path of paths) {
      expect(await untrustedLinkOn(path), path).toBeUndefined();
    }
  });
});
