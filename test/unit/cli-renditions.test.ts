/**
 * The renditions of one input (src/cli/batch/renditions.ts), and the incremental record's reading
 * (record.ts): the lists, the sizes settled against the source, the names and their template's
 * checks; a record read only when it is exactly its format.
 */
import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseIntegerList, parseOutputTypes } from "../../src/cli/flags.js";
import { planRequest, StepCollector } from "../../src/cli/batch/plan.js";
import { Ledger } from "../../src/cli/batch/incremental.js";
import { writeManifest, type Manifest } from "../../src/cli/batch/manifest.js";
import { loadRecord, recordName, saveRecord } from "../../src/cli/batch/record.js";
import { nameTemplateOf, renditionName, renditionsOf } from "../../src/cli/batch/renditions.js";

function plan(build: (steps: StepCollector) => void) {
  const steps = new StepCollector();
  build(steps);
  return planRequest(steps);
}

const widths = (values: number[], types: Array<"webp" | "jpeg"> = ["webp"]) =>
  plan((s) => {
    s.dimension("width", values);
    s.types = types;
  });

describe("renditions of an input", () => {
  it("one per width × type, each request with its own width", () => {
    const p = widths([320, 640], ["webp", "jpeg"]);
    const made = renditionsOf(p, undefined, undefined);
    expect(made.map((r) => [r.type, r.width])).toEqual([
      ["webp", 320],
      ["webp", 640],
      ["jpeg", 320],
      ["jpeg", 640],
    ]);
    expect(Object.fromEntries(p.requestFor("jpeg", 640).query)).toMatchObject({ width: "640", type: "jpeg" });
  });

  it("sizes past the source's are made once, at the source's size", () => {
    const made = renditionsOf(widths([320, 640, 1280]), undefined, { width: 500, height: 281 });
    expect(made.map((r) => r.width)).toEqual([320, 500]);
  });

  it("with --upscale, a size past the source's is enlarged to, in proportion, as one /enlarge", () => {
    const p = plan((s) => {
      s.dimension("height", [100, 600]);
      s.types = ["webp"];
      s.upscale = true;
    });
    const made = renditionsOf(p, undefined, { width: 500, height: 281 });
    expect(made.map((r) => [r.height, r.enlarge])).toEqual([
      [100, undefined],
      [600, { width: 1068, height: 600 }],
    ]);
    const request = p.requestFor("webp", 600, made[1]?.enlarge);
    expect(request.op).toBe("enlarge");
    expect(Object.fromEntries(request.query)).toMatchObject({ width: "1068", height: "600", type: "webp" });
    expect(p.requestFor("webp", 100).op).toBe("resize");
  });

  it("--upscale needs the size as the first operation, alone in its step", () => {
    expect(() =>
      plan((s) => {
        s.add("crop", { width: 100, height: 100 });
        s.dimension("width", [320, 640]);
        s.upscale = true;
      }),
    ).toThrow(/--upscale: needs --width or --height as the first operation/);
  });

  it("a size after another operation is sent as asked: the source's size does not bound it", () => {
    const p = plan((s) => {
      s.add("crop", { width: 100, height: 100 });
      s.dimension("width", [320, 640]);
      s.types = ["webp"];
    });
    expect(renditionsOf(p, undefined, { width: 500, height: 281 }).map((r) => r.width)).toEqual([320, 640]);
  });

  it("both size flags as lists are refused; list flags hold at most 16 values, each once", () => {
    const steps = new StepCollector();
    steps.dimension("width", [1, 2]);
    expect(() => steps.dimension("height", [3, 4])).toThrow(/--height/);
    expect(parseIntegerList("--width", "320,640,320", 1, 10_000, "300")).toEqual([320, 640]);
    expect(() => parseIntegerList("--width", Array(17).fill("1").join(","), 1, 10_000, "300")).toThrow(/16/);
    expect(parseOutputTypes("--type", "webp,jpg,WEBP")).toEqual(["webp", "jpeg"]);
    expect(() => parseOutputTypes("--type", "webp,bmp")).toThrow(/--type/);
  });
});

describe("names", () => {
  it("the default template when an input has several outputs, the input's folder kept", () => {
    const p = widths([320, 640], ["webp", "jpeg"]);
    const template = nameTemplateOf(p, undefined);
    expect(template).toBe("{name}-{width}w.{ext}");
    expect(renditionName(template, "sub/photo.JPG", { type: "jpeg", size: 320, width: 320 }, undefined)).toBe(
      "sub/photo-320w.jpg",
    );
    expect(nameTemplateOf(widths([320]), undefined)).toBeUndefined();
  });

  it("{hash} is the key's first 10 hex digits; {ext} of the input's own format when none is asked", () => {
    const p = widths([320, 640]);
    const key = "ab".repeat(32);
    const template = nameTemplateOf(p, "{name}.{hash}.{ext}");
    expect(renditionName(template, "a.png", { type: "webp", size: 320, width: 320 }, key)).toBe("a.ababababab.webp");
    const own = plan((s) => s.dimension("width", [100]));
    const ownTemplate = nameTemplateOf(own, "{name}-{width}.{ext}");
    expect(renditionName(ownTemplate, "a.PNG", { type: undefined, size: 100, width: 100 }, key)).toBe("a-100.PNG");
  });

  it("refuses a template that cannot tell the outputs apart, leaves the folder, or contradicts the format", () => {
    const p = widths([320, 640], ["webp", "jpeg"]);
    expect(() => nameTemplateOf(p, "{name}.{ext}")).toThrow(/\{width\}/);
    expect(() => nameTemplateOf(p, "{name}-{width}.webp")).toThrow(/\{ext\}/);
    expect(() => nameTemplateOf(p, "../{name}-{width}.{ext}")).toThrow(/inside the output folder/);
    expect(() => nameTemplateOf(p, "/abs/{name}-{width}.{ext}")).toThrow(/inside the output folder/);
    expect(() => nameTemplateOf(p, "{name}-{size}.{ext}")).toThrow(/a template of/);
    expect(() => nameTemplateOf(widths([320, 640]), "{name}-{width}.jpg")).toThrow(/\.webp/);
    expect(() => nameTemplateOf(widths([320, 640]), "{name}-{height}.{ext}")).toThrow(/\{height\}/);
    expect(nameTemplateOf(p, "{width}/{name}.{ext}")).toBe("{width}/{name}.{ext}");
  });
});

describe("the incremental record", () => {
  const entry = {
    hash: "a".repeat(64),
    bytes: 10,
    version: "1:2:10:3:4",
    width: 20,
    height: 10,
    format: "jpeg",
    outputs: [
      {
        path: "sub/a-320w.webp",
        key: "b".repeat(64),
        format: "webp",
        width: 320,
        height: 160,
        bytes: 5,
        hash: "c".repeat(64),
      },
    ],
  };

  it("round-trips what it saves, 0600", async () => {
    const root = await mkdtemp(join(tmpdir(), "aciimg-record-"));
    saveRecord(root, new Map([["sub/a.jpg", entry]]));
    const warnings: string[] = [];
    expect(loadRecord(root, (w) => warnings.push(w))).toEqual(new Map([["sub/a.jpg", entry]]));
    expect(warnings).toEqual([]);
    expect((await stat(join(root, recordName))).mode & 0o777).toBe(0o600);
  });

  it("writes one line per input, sorted, and reads back a record larger than its read buffer", async () => {
    const root = await mkdtemp(join(tmpdir(), "aciimg-record-"));
    // Over 1 MiB of lines, so lines straddle the pieces it is read in.
    const names = Array.from({ length: 4000 }, (_, i) => `dir-${i % 7}/photo-${4000 - i}.jpg`);
    const [output] = entry.outputs as [(typeof entry.outputs)[number]];
    const record = new Map(names.map((name) => [name, { ...entry, outputs: [{ ...output, path: name }] }]));
    saveRecord(root, record);
    const text = await readFile(join(root, recordName), "utf8");
    expect(text.length).toBeGreaterThan(1024 * 1024);
    const lines = text.split("\n");
    expect(lines.at(-1)).toBe("");
    expect(lines.slice(1, -1).map((line) => JSON.parse(line)[0])).toEqual([...names].sort());
    const warnings: string[] = [];
    expect(loadRecord(root, (w) => warnings.push(w))).toEqual(record);
    expect(warnings).toEqual([]);
  });

  it("sets aside, with a warning, a record that is not exactly its format", async () => {
    const root = await mkdtemp(join(tmpdir(), "aciimg-record-"));
    const header = JSON.stringify({ aciimg: "incremental-record", version: 2 });
    const record = (inputs: Record<string, unknown>) =>
      `${[header, ...Object.entries(inputs).map((pair) => JSON.stringify(pair))].join("\n")}\n`;
    const output = entry.outputs[0];
    for (const text of [
      "{",
      "",
      JSON.stringify({ aciimg: "incremental-record", version: 1, inputs: {} }),
      `${JSON.stringify({ aciimg: "incremental-record", version: 3 })}\n`,
      record({ "a.jpg": entry }).slice(0, -1),
      record({ "a.jpg": entry }).replace("\n", "\n\n"),
      `${header}\n["a.jpg"]\n`,
      `${header}\n${JSON.stringify(["a.jpg", entry])}\n${JSON.stringify(["a.jpg", entry])}\n`,
      `${header}\n"${"x".repeat(2 * 1024 * 1024)}"\n`,
      record({ "../a.jpg": entry }),
      record({ "a.jpg": { ...entry, outputs: [{ ...output, path: "/etc/passwd" }] } }),
      record({ "a.jpg": { ...entry, outputs: [{ ...output, path: "x/../../y" }] } }),
      record({ "a.jpg": { ...entry, hash: "not hex" } }),
      record({ "a.jpg": { ...entry, outputs: [{ ...output, bytes: -1 }] } }),
      record({ "a.jpg": { ...entry, outputs: "none" } }),
      record({ "a.jpg": { ...entry, note: "a field the format does not have" } }),
      record({ "a.jpg": { ...entry, outputs: [{ ...output, extra: 1 }] } }),
    ]) {
      await writeFile(join(root, recordName), text);
      const warnings: string[] = [];
      expect(loadRecord(root, (w) => warnings.push(w)).size, text).toBe(0);
      expect(warnings, text).toEqual([expect.stringContaining("not a record aciimg can trust")]);
    }
  });

  it("no record is an empty one, without a warning", async () => {
    const root = await mkdtemp(join(tmpdir(), "aciimg-record-"));
    const warnings: string[] = [];
    expect(loadRecord(root, (w) => warnings.push(w)).size).toBe(0);
    expect(warnings).toEqual([]);
  });
});

describe("the manifest's text", () => {
  it("is what JSON.stringify(manifest, null, 2) makes, sorted, whatever each input has", async () => {
    const root = await mkdtemp(join(tmpdir(), "aciimg-manifest-"));
    const ledger = new Ledger(join(root, "web"), new Map());
    const hash = (c: string) => c.repeat(64);
    const made = (width: number) => ({
      key: hash("b"),
      format: "webp",
      width,
      height: width / 2,
      bytes: width * 3,
      hash: hash("c"),
    });
    // Found in this order: the manifest sorts inputs and outputs by path.
    ledger.addInput("z/sized.jpg", { hash: hash("a"), bytes: 10, width: 640, height: 320, format: "jpeg" }, []);
    for (const width of [640, 320])
      ledger.made("z/sized.jpg", join(root, "web", `z/sized-${width}w.webp`), made(width));
    ledger.addInput('b "quoted" é.jpg', { hash: hash("d"), bytes: 20 }, []);
    ledger.made('b "quoted" é.jpg', join(root, "web", 'b "quoted" é.webp'), made(100));
    ledger.addInput("a/failed.jpg", { hash: hash("e"), bytes: 30, width: 1, height: 1, format: "png" }, []);
    const path = join(root, "manifest.json");
    writeManifest(path, ledger, root);
    const text = await readFile(path, "utf8");
    const manifest = JSON.parse(text) as Manifest;
    expect(text).toBe(`${JSON.stringify(manifest, null, 2)}\n`);
    expect(manifest.outputRoot).toBe("web");
    expect(manifest.inputs.map((i) => [i.path, i.outputs.map((o) => o.path)])).toEqual([
      ["a/failed.jpg", []],
      ['b "quoted" é.jpg', ['b "quoted" é.webp']],
      ["z/sized.jpg", ["z/sized-320w.webp", "z/sized-640w.webp"]],
    ]);
    expect(manifest.inputs[1]).not.toHaveProperty("width");
    expect(manifest.inputs[2]).toMatchObject({ width: 640, height: 320, format: "jpeg" });
  });

  it("with no inputs is still the same text", async () => {
    const root = await mkdtemp(join(tmpdir(), "aciimg-manifest-"));
    const path = join(root, "manifest.json");
    writeManifest(path, new Ledger(root, new Map()), root);
    const text = await readFile(path, "utf8");
    expect(text).toBe(`${JSON.stringify({ aciimg: "manifest", version: 1, outputRoot: ".", inputs: [] }, null, 2)}\n`);
  });
});
