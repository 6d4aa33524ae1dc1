/**
 * The SVG screen for backends that cannot stop a render (issue 22, point 5): filters are refused
 * however they are written, and so is what could hide them from a text scan; ordinary SVGs pass.
 */
import { describe, expect, test } from "vitest";
import { needsSvgScreen, screenSvg } from "../../src/protocol/svg-screen.js";
import { costlySvg } from "../helpers/costly-svg.js";

const svg = (body: string, head = ""): Buffer =>
  Buffer.from(`${head}<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">${body}</svg>`);

describe("screenSvg", () => {
  test("refuses the issue's SVG, naming its first filter construct", () => {
    expect(screenSvg(costlySvg())).toEqual({ construct: "<filter>", why: expect.stringContaining("minutes") });
  });

  test.each([
    ["a primitive outside a <filter>", svg('<defs><feGaussianBlur stdDeviation="9"/></defs>'), "<feGaussianBlur>"],
    ["a namespaced filter element", svg('<svg:filter id="f" xmlns:svg="http://www.w3.org/2000/svg"/>'), "<filter>"],
    [
      "a CSS filter function in a style attribute",
      svg('<rect width="9" height="9" style="filter: blur(50px)"/>'),
      "filter property",
    ],
    ["a filter attribute", svg('<rect width="9" height="9" filter="blur(50)"/>'), "filter property"],
    [
      "a filter in a <style> element",
      svg("<style>rect { filter : drop-shadow(0 0 90px red) }</style><rect/>"),
      "filter property",
    ],
    [
      "character references",
      svg('<rect style="&#102;ilter:blur(9px)"/><rect style="&#x66;ilter:blur(9px)"/>'),
      "filter property",
    ],
    ["a CSS escape", svg('<rect style="f\\69 lter: blur(9px)"/>'), "filter property"],
    [
      "an entity declaration",
      svg("<text>&f;</text>", "<!DOCTYPE svg [<!ENTITY f \"&#60;filter id='x'/>\">]>"),
      "<!ENTITY",
    ],
    [
      "a nested SVG in a data: URL",
      svg('<image href="data:image/svg+xml;base64,PHN2Zz4="/>'),
      "data:image/svg+xml URL",
    ],
    [
      "a stylesheet in a data: URL",
      svg("", '<?xml-stylesheet href="data:text/css,rect%7Bfilter:blur(9px)%7D"?>'),
      "data:text/css URL",
    ],
    ["another encoding", Buffer.from('<?xml version="1.0" encoding="UTF-7"?><svg/>'), 'encoding="UTF-7"'],
  ])("refuses %s", (_, input, construct) => {
    expect(screenSvg(input)?.construct).toBe(construct);
  });

  test.each([
    [
      "shapes, text and gradients",
      svg('<linearGradient id="g"/><rect width="9" height="9" fill="url(#g)"/><text>filtered water</text>'),
    ],
    ["a raster image in a data: URL", svg('<image href="data:image/png;base64,iVBORw0KGgo="/>')],
    ["an XML declaration in UTF-8", svg("<circle r='4'/>", '<?xml version="1.0" encoding="UTF-8"?>')],
    [
      "filterUnits-like words that are not the property",
      svg('<mask maskUnits="userSpaceOnUse"/><rect class="filtering"/>'),
    ],
  ])("lets %s pass", (_, input) => {
    expect(screenSvg(input)).toBeUndefined();
  });
});

describe("needsSvgScreen", () => {
  test("screens SVG and unknown text, not formats named by their magic numbers", () => {
    expect(needsSvgScreen(costlySvg())).toBe(true);
    expect(needsSvgScreen(Buffer.from("<!-- a long comment -->\n".repeat(300) + "<svg/>"))).toBe(true);
    expect(needsSvgScreen(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]))).toBe(false);
    expect(needsSvgScreen(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(false);
  });
});
