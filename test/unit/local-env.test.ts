import { describe, expect, it } from "vitest";
import { backendEnvironment } from "../../src/providers/local/env.js";

describe("backendEnvironment", () => {
  it("keeps what node and libvips read, adds the key, and drops everything else", () => {
    const env = backendEnvironment(
      {
        PATH: "/usr/bin",
        HOME: "/home/a",
        LANG: "C.UTF-8",
        LC_ALL: "C",
        TZ: "UTC",
        TMPDIR: "/tmp/x",
        VIPS_CONCURRENCY: "1",
        AZURE_CLIENT_SECRET: "s",
        ACIIMG_SERVE_KEY: "k",
        ACIIMG_REGISTRY_PASSWORD: "p",
        NODE_OPTIONS: "--inspect",
        ACIIMG_BACKEND_KEY: "inherited",
        UNSET: undefined,
      },
      "fresh",
    );
    expect(env).toEqual({
      PATH: "/usr/bin",
      HOME: "/home/a",
      LANG: "C.UTF-8",
      LC_ALL: "C",
      TZ: "UTC",
      TMPDIR: "/tmp/x",
      VIPS_CONCURRENCY: "1",
      ACIIMG_BACKEND_KEY: "fresh",
    });
  });
});
