/**
 * The rendition cache's pure parts: the entry format both stores share, whose writing the folder
 * form trusts, and how `--cache` and its bounds are read (a malformed one is E_USAGE, never
 * echoing a SAS).
 */
import { describe, expect, it } from "vitest";
import { parseContainerUrl } from "../../src/cli/batch/cache/azblob.js";
import { distrustOf } from "../../src/cli/batch/cache/dir-trust.js";
import { decodeEntry, encodeHeader, headerMaxBytes, sha256Hex } from "../../src/cli/batch/cache/entry.js";
import { openRenditionCache } from "../../src/cli/batch/cache/index.js";

const key = sha256Hex(Buffer.from("input and operations"));
const body = Buffer.from("not really a webp, but the format does not look inside");
const meta = { format: "webp", width: 3, height: 2, bytes: body.length, hash: sha256Hex(body) };

describe("cache entry format", () => {
  it("decodes what it encodes, the body a view of the data and the meta without the key", () => {
    const data = Buffer.concat([encodeHeader(key, meta), body]);
    expect(data.subarray(0, 19).toString()).toBe("aciimg-rendition 1\n");
    const decoded = decodeEntry(key, data, 1000);
    expect(decoded).toEqual({ ok: true, rendition: { meta, body } });
    expect(decoded.ok && decoded.rendition.body.buffer).toBe(data.buffer);
  });

  it("keeps the header well under its bound, and refuses a meta over the entry bound", () => {
    expect(encodeHeader(key, { ...meta, format: "avif", width: 2 ** 40 }).length).toBeLessThan(headerMaxBytes / 3);
    const data = Buffer.concat([encodeHeader(key, meta), body]);
    expect(decodeEntry(key, data, body.length - 1)).toEqual({
      ok: false,
      why: `it is ${body.length} bytes, more than the ${body.length - 1} an entry may be`,
    });
  });

  it.each([
    ["a key in the header that is not the one asked for", { key: "x".repeat(500) }, /another key \("x{64}"\)/],
    ["a height of 1.5", { height: 1.5 }, /height 1.5 is no size/],
    ["a negative length", { bytes: -1 }, /length -1 is no length/],
    ["an upper-case hash", { hash: meta.hash.toUpperCase() }, /hash is not a sha256/],
    ["a format as a number", { format: 5 }, /format 5 is none of/],
  ])("refuses %s", (_, change, why) => {
    const header = `aciimg-rendition 1\n${JSON.stringify({ key, ...meta, ...change })}\n`;
    const decoded = decodeEntry(key, Buffer.concat([Buffer.from(header), body]), 1000);
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.why).toMatch(why);
  });
});

describe("whose files the folder cache trusts", () => {
  const me = 1000;
  it.each([
    [{ uid: me, mode: 0o700 }, undefined],
    [{ uid: me, mode: 0o777 }, undefined],
    [{ uid: 0, mode: 0o755 }, undefined],
    [{ uid: 0, mode: 0o1777 }, "it belongs to root and every user can write it (mode 01777)"],
    [{ uid: 0, mode: 0o775 }, "it belongs to root and its group can write it (mode 0775)"],
    [{ uid: 1001, mode: 0o700 }, "it belongs to uid 1001, not to you (uid 1000) or root"],
  ])("%o: %s", (info, why) => {
    expect(distrustOf(info, "it", me)).toBe(why);
  });

  it("trusts all where there are no POSIX owners (Windows)", () => {
    expect(distrustOf({ uid: 1001, mode: 0o777 }, "it", undefined)).toBeUndefined();
  });
});

describe("--cache azblob:<container URL>", () => {
  it("reads the container from a virtual-host or a path-style URL, and shows neither query nor SAS", () => {
    expect(parseContainerUrl("https://acct.blob.core.windows.net/renditions?sv=1&sig=SECRET")).toEqual({
      container: "renditions",
      shown: "https://acct.blob.core.windows.net/renditions",
      sas: "?sv=1&sig=SECRET",
    });
    expect(parseContainerUrl("http://127.0.0.1:10000/devstoreaccount1/ci-cache/").container).toBe("ci-cache");
  });

  it.each([
    ["no URL", "not a url sig=SECRET", /"azblob:" is followed by no URL/],
    ["another scheme", "ftp://acct.example/c?sig=SECRET", /ftp:\/\/acct\.example\/c is not an https:\/\/ URL/],
    ["a SAS over plain HTTP", "http://acct.example/cache?sig=SECRET", /would send its SAS unencrypted/],
    ["no container", "https://acct.blob.core.windows.net/?sig=SECRET", /names no container/],
    ["a blob path", "https://acct.blob.core.windows.net/a/b/c?sig=SECRET", /names no container/],
    ["an invalid name", "https://acct.blob.core.windows.net/Cache_1?sig=SECRET", /names no container/],
    ["a password", "https://u:SECRET@acct.blob.core.windows.net/cache", /user name or password/],
  ])("refuses %s with E_USAGE, never quoting the secret", (_, url, why) => {
    let error: unknown;
    try {
      parseContainerUrl(url);
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: "E_USAGE", message: expect.stringMatching(why) });
    expect((error as Error).message).toMatch(/^--cache: .*; expected azblob:https:\/\/<account>/);
    expect((error as Error).message).not.toContain("SECRET");
  });

  it("refuses an empty spec and a bound that is not a positive number of bytes", async () => {
    const warn = () => undefined;
    await expect(openRenditionCache(" ", { warn }, "/")).rejects.toMatchObject({ code: "E_USAGE" });
    await expect(openRenditionCache("x", { warn, maxBytes: 0 }, "/")).rejects.toMatchObject({
      code: "E_USAGE",
      message: "--cache-max: expected a positive number of bytes, got 0",
    });
    await expect(openRenditionCache("x", { warn, maxEntryBytes: 1.5 }, "/")).rejects.toMatchObject({
      code: "E_USAGE",
    });
  });
});
