/**
 * The batch's path arithmetic (src/cli/batch/paths.ts) takes shortcuts for the common case; its
 * answers must be node:path's for every case, common or not.
 */
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { below, under } from "../../src/cli/batch/paths.js";

const roots = ["/", "/a", "/a/b", "/a/b/"];
const rests = [
  "x.jpg",
  "sub/x.jpg",
  "sub/deeper/x.jpg",
  "..x.jpg",
  ".x.jpg",
  "x..jpg",
  "",
  ".",
  "..",
  "./x.jpg",
  "../x.jpg",
  "sub/../x.jpg",
  "sub/./x.jpg",
  "sub//x.jpg",
  "sub/",
  "sub/.",
  "sub/..",
  "/abs.jpg",
];

describe("below", () => {
  it("is path.relative for paths inside, outside, equal to and beside the root", () => {
    const paths = [...roots, "/ab/x.jpg", "/a/bc/x.jpg", "/other/x.jpg"];
    for (const root of roots) {
      for (const path of [...paths, ...rests.map((rest) => join(root, rest))])
        expect(below(root, path), `${root} ${path}`).toBe(relative(root, path));
      // Not normalised: the shortcut must not answer for these.
      for (const rest of rests.filter((r) => r !== "" && !r.startsWith("/")))
        expect(below(root, `${root.replace(/\/$/, "")}/${rest}`), `${root} + ${rest}`).toBe(
          relative(root, `${root.replace(/\/$/, "")}/${rest}`),
        );
    }
  });
});

describe("under", () => {
  it("is path.join for names, relative paths and every kind of odd one", () => {
    for (const root of roots)
      for (const rest of rests) expect(under(root, rest), `${root} + ${rest}`).toBe(join(root, rest));
  });
});
