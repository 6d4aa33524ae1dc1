/**
 * The operation catalogue coerces and validates exactly as imaginary does (docs/reference/imaginary-api.md
 * §1.4–§1.6).
 */
import { describe, expect, test } from "vitest";
import {
  checkRequired,
  isOperationName,
  negotiateType,
  operationNames,
  operationSpecs,
  paramSpecs,
  parseImageOptions,
  parsePipeline,
  validateRequest,
  type ImageOptions,
} from "../../src/protocol/operations.js";

const q = (s: string) => new URLSearchParams(s);
const parsed = (s: string): ImageOptions => {
  const r = parseImageOptions(q(s));
  if (!r.ok) throw new Error(r.message);
  return r.value;
};
const rejection = (s: string) => {
  const r = parseImageOptions(q(s));
  return r.ok ? undefined : { status: r.status, message: r.message };
};

describe("parameter coercion", () => {
  test("ints are the absolute value of a float, rounded half up; empty is 0", () => {
    expect(parsed("width=-300&height=99.6&top=99.4&left=&quality=1e2")).toMatchObject({
      width: 300,
      height: 100,
      top: 99,
      left: 0,
      quality: 100,
    });
    expect(parsed("width=2.5").width).toBe(3);
  });
  test("a malformed number carries Go's strconv message, value quoted", () => {
    expect(rejection("width=abc")).toEqual({
      status: 400,
      message:
        'Error while processing parameters, error while processing parameter "width" with value "abc", ' +
        'error: strconv.ParseFloat: parsing "abc": invalid syntax',
    });
    expect(rejection("factor=1e400")?.message).toContain('parsing "1e400": value out of range');
  });
  test("floats are absolute; a malformed float is unsupported value", () => {
    expect(parsed("sigma=-2.5&opacity=0.5")).toMatchObject({ sigma: 2.5, opacity: 0.5 });
    expect(rejection("sigma=x")?.message).toBe(
      "Error while processing parameters, " +
        'error while processing parameter "sigma" with value "x", error: unsupported value',
    );
  });
  test("bools follow Go's ParseBool; empty is false; yes/no are errors", () => {
    for (const v of ["1", "t", "T", "TRUE", "true", "True"]) expect(parsed(`force=${v}`).force).toBe(true);
    for (const v of ["0", "f", "F", "FALSE", "false", "False", ""]) expect(parsed(`force=${v}`).force).toBe(false);
    expect(rejection("nocrop=yes")?.message).toContain('parameter "nocrop" with value "yes", error: unsupported value');
  });
  test("the first repeated value wins and unknown params are ignored", () => {
    expect(parsed("width=10&width=20&bogus=1&field=image")).toEqual({ width: 10 });
  });
  test("colours clamp to 255, non-numbers are 0, fewer than 3 values are unused", () => {
    expect(parsed("background=300, 20,x").background).toEqual([255, 20, 0]);
    expect(parsed("color=1,2").color).toBeUndefined();
  });
  test("gravity, extend and colorspace map unknown values like imaginary", () => {
    expect(parsed("gravity=NORTH&extend=White&colorspace=bw")).toMatchObject({
      gravity: "north",
      extend: "white",
      colorspace: "bw",
    });
    expect(parsed("gravity=middle&extend=nope&colorspace=BW")).toMatchObject({
      gravity: "centre",
      extend: "mirror",
      colorspace: "srgb",
    });
  });
  test("type: known formats lower-cased, auto exact, gif/svg/pdf parse but cannot be written", () => {
    expect(parsed("type=PNG").type).toBe("png");
    expect(parsed("type=auto").type).toBe("auto");
    expect(parsed("type=gif")).toEqual({ unwritableType: "gif" });
    for (const t of ["AUTO", "jpg", "heif", "avif"])
      expect(rejection(`type=${t}`)).toEqual({ status: 400, message: "Unsupported output image format" });
  });
  test("a parse error is reported before a bad type", () => {
    expect(rejection("type=nope&width=abc")?.message).toContain('parameter "width"');
  });
});

describe("required params per operation", () => {
  const message = (op: Parameters<typeof validateRequest>[0], s: string) => {
    const r = validateRequest(op, q(s));
    return r.ok ? "ok" : r.message.replace("Error while processing the image: ", "");
  };
  test.each([
    ["resize", "", "Missing required param: height or width"],
    ["resize", "height=5", "ok"],
    ["crop", "", "Missing required param: height or width"],
    ["smartcrop", "width=1", "ok"],
    ["fit", "width=5", "Missing required params: height, width"],
    ["fit", "width=5&height=5", "ok"],
    ["enlarge", "height=5", "Missing required params: height, width"],
    ["extract", "areawidth=5", "Missing required params: areawidth or areaheight"],
    ["extract", "areawidth=5&areaheight=5", "ok"],
    ["rotate", "rotate=0", "Missing required param: rotate"],
    ["rotate", "rotate=45", "ok"],
    ["thumbnail", "", "Missing required params: width or height"],
    ["zoom", "", "Missing required param: factor"],
    ["zoom", "factor=1&left=3", "Missing required params: areawidth, areaheight"],
    ["zoom", "factor=1&left=3&areaheight=4", "ok"],
    ["convert", "", "Missing required param: type"],
    ["convert", "type=auto", "ok"],
    ["convert", "type=gif", "Unsupported image output type"],
    ["watermark", "text=", "Missing required param: text"],
    ["blur", "", "Missing required param: sigma or minampl"],
    ["blur", "minampl=0.1", "ok"],
    ["flip", "", "ok"],
    ["flop", "type=svg", "Unsupported image output type"],
    ["autorotate", "type=gif", "ok"],
    ["info", "type=pdf", "ok"],
    ["watermarkimage", "image=http://x", "Not implemented endpoint"],
  ] as const)("%s?%s → %s", (op, s, expected) => {
    expect(message(op, s)).toBe(expected);
  });
  test("auto that matched nothing leaves convert without a type", () => {
    expect(checkRequired("convert", {})?.message).toBe(
      "Error while processing the image: Missing required param: type",
    );
  });
});

describe("pipeline JSON", () => {
  const ok = (json: string) => {
    const r = parsePipeline(json);
    if (!r.ok) throw new Error(r.message);
    return r.value;
  };
  const err = (json: string | null) => {
    const r = parsePipeline(json);
    return r.ok ? "ok" : r.message;
  };
  const paramErr = (json: string, e: string) =>
    `Error while processing parameters, ` +
    `error while processing parameter "operations" with value ${JSON.stringify(json)}, error: ${e}`;

  test("missing, empty, too short, null and [] are all 'Missing or invalid'", () => {
    for (const j of [null, "", "[", "[]", "null"])
      expect(err(j)).toBe("Error while processing the image: Missing or invalid pipeline operations JSON");
  });
  test("more than 10 operations are refused; 10 are fine", () => {
    const ops = (n: number) => JSON.stringify(Array.from({ length: n }, () => ({ operation: "flip" })));
    expect(err(ops(11))).toBe("Error while processing the image: Maximum allowed pipeline operations exceeded");
    expect(ok(ops(10))).toHaveLength(10);
  });
  test("names are case-sensitive; info and pipeline are not pipeline operations", () => {
    for (const n of ["Crop", "info", "pipeline", "watermarkimage"])
      expect(err(`[{"operation":"${n}"}]`)).toBe(`Error while processing the image: Unsupported operation name: ${n}`);
    expect(err('[{"operation":"watermarkImage"}]')).toBe("Not implemented endpoint");
  });
  test("fields match case-insensitively; unknown fields are refused", () => {
    expect(ok('[{"Operation":"crop","PARAMS":{"width":1},"Ignore_Failure":true}]')).toEqual([
      { operation: "crop", ignore_failure: true, params: { width: 1 } },
    ]);
    const j = '[{"operation":"crop","extra":1}]';
    expect(err(j)).toBe(paramErr(j, 'json: unknown field "extra"'));
  });
  test("syntax errors read like Go's; data after the first value is ignored", () => {
    expect(err('[{"operation":"crop"')).toBe(paramErr('[{"operation":"crop"', "unexpected EOF"));
    expect(err("[x]")).toBe(paramErr("[x]", "invalid character 'x' looking for beginning of value"));
    expect(ok('[{"operation":"flip"}] trailing')).toHaveLength(1);
  });
  test("wrong JSON types name the Go field", () => {
    expect(err('[{"operation":5}]')).toBe(
      paramErr(
        '[{"operation":5}]',
        "json: cannot unmarshal number into Go struct field PipelineOperation.operation of type string",
      ),
    );
    expect(err('[{"operation":"crop","ignore_failure":"yes"}]')).toContain("of type bool");
    expect(err('{"operation":"crop"}')).toContain(
      "json: cannot unmarshal object into Go value of type main.PipelineOperations",
    );
  });
  test(
    "param values: numbers truncated with sign kept, " + "strings by query rules, others unsupported with Go's %!q",
    () => {
      expect(
        ok('[{"operation":"resize","params":{"width":-100.7,"height":"-20.5","force":"t","type":"png","nope":1}}]')[0]
          ?.params,
      ).toEqual({ width: -100, height: 21, force: true, type: "png" });
      expect(err('[{"operation":"resize","params":{"width":true}}]')).toBe(
        "Error while processing the image: " +
          'error while processing parameter "width" with value %!q(bool=true), error: unsupported value',
      );
      expect(err('[{"operation":"watermark","params":{"text":5}}]')).toContain(
        "with value %!q(float64=5), error: unsupported value",
      );
      expect(err('[{"operation":"resize","params":{"width":null}}]')).toContain("with value %!q(<nil>)");
      expect(err('[{"operation":"watermark","params":{"text":1000000}}]')).toContain(
        "with value %!q(float64=1e+06), error",
      );
      expect(err('[{"operation":"resize","params":{"width":[1,{"b":null,"a":"x"}]}}]')).toContain(
        'with value [%!q(float64=1) map["a":"x" "b":<nil>]], error: unsupported value',
      );
    },
  );
  test("validateRequest decodes operations on any route, as imaginary does", () => {
    const r = validateRequest("resize", q("width=5&operations=" + encodeURIComponent("[{")));
    expect(r.ok).toBe(false);
    const p = validateRequest(
      "pipeline",
      q("operations=" + encodeURIComponent('[{"operation":"crop","params":{"width":"200"}}]')),
    );
    expect(p.ok && p.value.pipeline).toEqual([{ operation: "crop", params: { width: 200 } }]);
  });
});

describe("cost bounds (issue 12): parameters whose cost no input size bounds are 422 before a backend wakes", () => {
  const outcome = (op: Parameters<typeof validateRequest>[0], query: URLSearchParams) => {
    const r = validateRequest(op, query);
    return r.ok ? "ok" : `${r.status} ${r.message}`;
  };
  const text = (t: string, more = "") => new URLSearchParams([["text", t], ...new URLSearchParams(more)]);
  test.each([
    ["text=x&dpi=600", "ok"],
    ["text=x&dpi=601", "422 Watermark dpi is too big (limit 600)"],
    ["text=x&dpi=1500&textwidth=16000", "422 Watermark dpi is too big (limit 600)"],
    ["text=x&textwidth=16384", "ok"],
    ["text=x&textwidth=16385", "422 Watermark text width is too big (limit 16384 px)"],
    ["text=x&font=sans bold 200", "ok"],
    ["text=x&font=DejaVu Serif Italic 14px", "ok"],
    ["text=x&font=sans 201", "422 Watermark font size is too big (limit 200)"],
    ["text=x&sigma=100", "ok"],
    ["text=x&sigma=100.5", "422 Blur sigma is too big (limit 100)"],
  ] as const)("watermark?%s → %s", (s, expected) => {
    expect(outcome("watermark", q(s))).toBe(expected);
  });
  test("Pango reads sizes with strtod: 1e3, 0x3e8, +1000, 1000px and a hex float are all too big", () => {
    for (const font of [
      "sans 1e3",
      "sans 0x3e8",
      "sans +1000",
      "sans 1000px",
      "sans 0x1p10",
      "sans inf",
      "sans 1000 @wght=700",
    ]) {
      expect(outcome("watermark", text("x", `font=${encodeURIComponent(font)}`)), font).toBe(
        "422 Watermark font size is too big (limit 200)",
      );
    }
    for (const font of ["sans", "Nanum Gothic 12", "0xProto 10", "Informal Roman", "M+ 1p 11", "sans 100,"]) {
      expect(outcome("watermark", text("x", `font=${encodeURIComponent(font)}`)), font).toBe("ok");
    }
  });
  test("text is bounded in UTF-8 bytes, not characters", () => {
    expect(outcome("watermark", text("€".repeat(341)))).toBe("ok"); // 1023 bytes
    expect(outcome("watermark", text("€".repeat(342)))).toBe("422 Watermark text is too long (limit 1024 bytes)");
    expect(outcome("watermark", text("x\n".repeat(512)))).toBe("ok");
    expect(outcome("watermark", text("x\n".repeat(513)))).toBe("422 Watermark text is too long (limit 1024 bytes)");
  });
  test("sigma is bounded on every operation that passes it to bimg; autorotate and info ignore it", () => {
    for (const [op, s] of [
      ["blur", "sigma=1000"],
      ["resize", "width=10&sigma=101"],
      ["crop", "width=10&sigma=1e6"],
    ] as const) {
      expect(outcome(op, q(s))).toBe("422 Blur sigma is too big (limit 100)");
    }
    expect(outcome("autorotate", q("sigma=1000"))).toBe("ok");
    expect(outcome("info", q("sigma=1000"))).toBe("ok");
  });
  test("watermark params are ignored by the other operations, as imaginary does", () => {
    expect(outcome("resize", q("width=10&dpi=5000&textwidth=99999&font=sans%205000&text=" + "x".repeat(5000)))).toBe(
      "ok",
    );
  });
  test("a pipeline step over a bound is refused, after imaginary's own checks of every step", () => {
    const pipeline = (ops: unknown) => outcome("pipeline", q("operations=" + encodeURIComponent(JSON.stringify(ops))));
    expect(
      pipeline([
        { operation: "crop", params: { width: 10 } },
        { operation: "watermark", params: { text: "x", dpi: 1500 } },
      ]),
    ).toBe("422 Watermark dpi is too big (limit 600)");
    // Pipeline numbers keep their sign (§1.6): -1000 is as large.
    expect(pipeline([{ operation: "blur", params: { sigma: -1000 } }])).toBe("422 Blur sigma is too big (limit 100)");
    expect(pipeline([{ operation: "blur", params: { sigma: 1000 } }, { operation: "nope" }])).toBe(
      "400 Error while processing the image: Unsupported operation name: nope",
    );
  });
});

describe("catalogue", () => {
  test("every operation has a spec whose params are known", () => {
    for (const op of operationNames) {
      expect(isOperationName(op)).toBe(true);
      for (const p of operationSpecs[op].params) expect(p in paramSpecs).toBe(true);
    }
    expect(isOperationName("form")).toBe(false);
  });
  test("type=auto picks webp, png, jpeg in Accept order", () => {
    expect(negotiateType("image/avif,image/webp,*/*")).toBe("webp");
    expect(negotiateType("image/png;q=0.5, image/webp")).toBe("png");
    expect(negotiateType("text/html")).toBeUndefined();
  });
});
