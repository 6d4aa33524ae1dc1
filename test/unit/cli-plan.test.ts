import { describe, expect, it } from "vitest";
import { AciimgError } from "../../src/errors.js";
import { planRequest, StepCollector } from "../../src/cli/plan.js";

function collect(fill: (c: StepCollector) => void): StepCollector {
  const collector = new StepCollector();
  fill(collector);
  return collector;
}

describe("planRequest", () => {
  it("sends one operation as itself, with type and quality on it", () => {
    const plan = planRequest(collect((c) => {
      c.add("resize", { width: 300, height: 200 });
      c.type = "webp";
      c.quality = 80;
    }));
    const { op, query } = plan.requestFor(plan.outputType);
    expect(op).toBe("resize");
    expect(Object.fromEntries(query)).toEqual({ width: "300", height: "200", type: "webp", quality: "80" });
    expect(plan.outputType).toBe("webp");
  });

  it("joins --width and --height into one resize", () => {
    const plan = planRequest(collect((c) => {
      c.dimension("width", 300);
      c.dimension("height", 100);
    }));
    const { op, query } = plan.requestFor(undefined);
    expect(op).toBe("resize");
    expect(Object.fromEntries(query)).toEqual({ width: "300", height: "100" });
  });

  it("sends several operations as one pipeline in order, the output type and quality on every step", () => {
    const plan = planRequest(collect((c) => {
      c.add("crop", { width: 200, height: 200 });
      c.add("blur", { sigma: 2 });
      c.type = "jpeg";
      c.quality = 90;
    }));
    const { op, query } = plan.requestFor(plan.outputType);
    expect(op).toBe("pipeline");
    // Each step of imaginary's pipeline encodes its result: an SVG failed at the first step without a type.
    expect(JSON.parse(query.get("operations") ?? "")).toEqual([
      { operation: "crop", params: { width: 200, height: 200, type: "jpeg", quality: 90 } },
      { operation: "blur", params: { sigma: 2, type: "jpeg", quality: 90 } },
    ]);
  });

  it("builds the request for each input's own output type when none is asked for", () => {
    const plan = planRequest(collect((c) => {
      c.add("fit", { width: 60, height: 60 });
      c.add("blur", { sigma: 2 });
    }));
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
    const plan = planRequest(collect((c) => {
      c.op("zoom");
      c.param("factor=2");
      c.op("flip");
      c.param("type=png");
    }));
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

  it("refuses costly parameters no image size bounds, alone or in a pipeline, before any backend is involved (issue 12)", () => {
    const watermark = collect((c) => {
      c.op("watermark");
      c.param("text=x");
      c.param("dpi=1500");
    });
    expect(() => planRequest(watermark)).toThrow("process: the backend would refuse this request: Watermark dpi is too big (limit 600)");
    const blurred = collect((c) => {
      c.add("crop", { width: 200, height: 200 });
      c.add("blur", { sigma: 1000 });
    });
    expect(() => planRequest(blurred)).toThrow("process: the backend would refuse this request: Blur sigma is too big (limit 100)");
    expect(planRequest(collect((c) => c.add("blur", { sigma: 100 }))).requestFor(undefined).op).toBe("blur");
  });
});
