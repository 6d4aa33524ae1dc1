import { describe, expect, it } from "vitest";

describe("the Functions app module", () => {
  it("registers process as an HTTP trigger on {op} with function-level auth", async () => {
    // Outside the host, @azure/functions runs in test mode and skips registration (docs/reference/arm-notes.md §7).
    const app = await import("../../src/functions/index.js");
    expect(app.processTrigger).toMatchObject({ methods: ["GET", "POST"], authLevel: "function", route: "{op}" });
    expect(app.processTrigger.handler).toBe(app.processImage);
  });

  it("runs cleanup every 5 minutes on a six-field NCRONTAB schedule", async () => {
    const app = await import("../../src/functions/index.js");
    const fields = app.cleanupTimer.schedule.split(" ");
    expect(fields).toHaveLength(6);
    const [second, minute, ...rest] = fields;
    expect(second).toBe("0");
    expect(minute).toBe("*/5");
    expect(rest).toEqual(["*", "*", "*", "*"]);
    expect(app.cleanupTimer.handler).toBe(app.cleanup);
  });
});
