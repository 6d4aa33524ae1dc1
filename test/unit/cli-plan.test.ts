import { describe, expect, it } from "vitest";
import { AciimgError } from "../../src/errors.js";
import { planRequest, StepCollector } from "../../src/cli/batch/plan.js";
import { parseColour } from "../../src/cli/colour.js";

/** Steps as the flags collect them; with --keep-metadata unless `strip`, so queries show only the steps' own params. */
function collect(fill: (c: StepCollector) => void, strip = false): StepCollector {
  const collector = new StepCollector();
  collector.keepMetadata = !strip;
  fill(collector);
  return collector;
}

describe("planRequest", () => {
  it("sends one operation as itself, with type and quality on it", () => {
    const plan = planRequest(
      collect((c) => {
        c.add("resize", { width: 300, height: 200 });
        c.type = "webp";
        c.quality = 80;
      }),
    );
    const { op, query } = plan.requestFor(plan.outputType);
    expect(op).toBe("resize");
    expect(Object.fromEntries(query)).toEqual({ width: "300", height: "200", type: "webp", quality: "80" });
    expect(plan.outputType).toBe("webp");
  });

  it("joins --width and --height into one resize", () => {
    const plan = planRequest(
      collect((c) => {
        c.dimension("width", [300]);
        c.dimension("height", [100]);
      }),
    );
    const { op, query } = plan.requestFor(undefined);
    expect(op).toBe("resize");
    expect(Object.fromEntries(query)).toEqual({ width: "300", height: "100" });
  });

  it("sends several operations as one pipeline in order, the output type and quality on every step", () => {
    const plan = planRequest(
      collect((c) => {
        c.add("crop", { width: 200, height: 200 });
        c.add("blur", { sigma: 2 });
        c.type = "jpeg";
        c.quality = 90;
      }),
    );
    const { op, query } = plan.requestFor(plan.outputType);
    expect(op).toBe("pipeline");
    // Each step of imaginary's pipeline encodes its result: an SVG failed at the first step without a type.
    expect(JSON.parse(query.get("operations") ?? "")).toEqual([
      { operation: "crop", params: { width: 200, height: 200, type: "jpeg", quality: 90, background: "255,255,255" } },
      { operation: "blur", params: { sigma: 2, type: "jpeg", quality: 90, background: "255,255,255" } },
    ]);
  });

  it("builds the request for each input's own output type when none is asked for", () => {
    const plan = planRequest(
      collect((c) => {
        c.add("fit", { width: 60, height: 60 });
        c.add("blur", { sigma: 2 });
      }),
    );
    expect(plan.outputType).toBeUndefined();
    expect(JSON.parse(plan.requestFor(undefined).query.get("operations") ?? "")).toEqual([
      { operation: "fit", params: { width: 60, height: 60 } },
      { operation: "blur", params: { sigma: 2 } },
    ]);
    expect(JSON.parse(plan.requestFor("png").query.get("operations") ?? "")).toEqual([
      { operation: "fit", params: { width: 60, height: 60, type: "png" } },
      { operation: "blur", params: { sigma: 2, type: "png" } },
    ]);
  });

  it("gives --op parameters their JSON types and keeps a type param as the output type", () => {
    const plan = planRequest(
      collect((c) => {
        c.op("zoom");
        c.param("factor=2");
        c.op("flip");
        c.param("type=png");
      }),
    );
    expect(JSON.parse(plan.requestFor(plan.outputType).query.get("operations") ?? "")).toEqual([
      { operation: "zoom", params: { factor: 2, type: "png" } },
      { operation: "flip", params: { type: "png" } },
    ]);
    expect(plan.outputType).toBe("png");
  });

  it("converts when only a type is given", () => {
    const plan = planRequest(collect((c) => (c.type = "tiff")));
    const { op, query } = plan.requestFor(plan.outputType);
    expect(op).toBe("convert");
    expect(query.get("type")).toBe("tiff");
  });

  it("refuses what imaginary would refuse, before any backend is involved", () => {
    expect(() => planRequest(collect((c) => c.op("zoom")))).toThrow(AciimgError);
    expect(() => planRequest(collect(() => {}))).toThrow(/nothing to do/);
    const eleven = collect((c) => {
      for (let i = 0; i < 11; i++) c.add("flip", { flip: true });
    });
    expect(() => planRequest(eleven)).toThrow(/pipeline/i);
  });

  it(
    "refuses costly parameters no image size bounds, " +
      "alone or in a pipeline, before any backend is involved (issue 12)",
    () => {
      const watermark = collect((c) => {
        c.op("watermark");
        c.param("text=x");
        c.param("dpi=1500");
      });
      expect(() => planRequest(watermark)).toThrow(
        "process: the backend would refuse this request: Watermark dpi is too big (limit 600)",
      );
      const blurred = collect((c) => {
        c.add("crop", { width: 200, height: 200 });
        c.add("blur", { sigma: 1000 });
      });
      expect(() => planRequest(blurred)).toThrow(
        "process: the backend would refuse this request: Blur sigma is too big (limit 100)",
      );
      expect(planRequest(collect((c) => c.add("blur", { sigma: 100 }))).requestFor(undefined).op).toBe("blur");
    },
  );
});

describe("metadata and transparency", () => {
  type Params = Record<string, unknown>;
  const queryOf = (collector: StepCollector): URLSearchParams => {
    const plan = planRequest(collector);
    return plan.requestFor(plan.outputType).query;
  };
  const stepsOf = (collector: StepCollector): Params[] =>
    (JSON.parse(queryOf(collector).get("operations") ?? "") as Array<{ params: Params }>).map((step) => step.params);

  it("strips metadata on every step by default; --keep-metadata leaves stripmeta off; --param stripmeta wins", () => {
    expect(Object.fromEntries(queryOf(collect((c) => c.add("resize", { width: 300 }), true)))).toEqual({
      width: "300",
      stripmeta: "true",
    });
    expect(
      stepsOf(
        collect((c) => {
          c.add("crop", { width: 200 });
          c.add("blur", { sigma: 2 });
        }, true),
      ),
    ).toEqual([
      { width: 200, stripmeta: true },
      { sigma: 2, stripmeta: true },
    ]);
    expect(queryOf(collect((c) => c.add("resize", { width: 300 }))).has("stripmeta")).toBe(false);
    expect(
      queryOf(
        collect((c) => {
          c.op("resize");
          c.param("width=300");
          c.param("stripmeta=false");
        }, true),
      ).get("stripmeta"),
    ).toBe("false");
  });

  it("flattens onto white on every step when the output is JPEG, and only then unless --background is given", () => {
    const toJpeg = (fill: (c: StepCollector) => void) =>
      collect((c) => {
        c.add("crop", { width: 200 });
        c.add("blur", { sigma: 2 });
        c.type = "jpeg";
        fill(c);
      });
    expect(stepsOf(toJpeg(() => {})).map((p) => p.background)).toEqual(["255,255,255", "255,255,255"]);
    expect(
      stepsOf(toJpeg((c) => (c.background = parseColour("--background", "#f00")))).map((p) => p.background),
    ).toEqual(["255,0,0", "255,0,0"]);
    for (const type of ["png", "webp", "tiff", undefined] as const) {
      expect(
        queryOf(
          collect((c) => {
            c.add("resize", { width: 300 });
            c.type = type;
          }),
        ).has("background"),
        String(type),
      ).toBe(false);
    }
    const onPng = collect((c) => {
      c.add("resize", { width: 300 });
      c.type = "png";
      c.background = [0, 0, 255];
    });
    expect(queryOf(onPng).get("background")).toBe("0,0,255");
    const given = collect((c) => {
      c.op("resize");
      c.param("width=300");
      c.param("background=1,2,3");
      c.type = "jpeg";
    });
    expect(queryOf(given).get("background")).toBe("1,2,3");
  });

  it("flattens a request built for a JPEG output, whichever type the flags asked for", () => {
    const plan = planRequest(collect((c) => c.add("resize", { width: 300 })));
    expect(plan.requestFor("jpeg").query.get("background")).toBe("255,255,255");
    expect(plan.requestFor("png").query.has("background")).toBe(false);
  });
});
