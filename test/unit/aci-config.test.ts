import { describe, expect, test } from "vitest";
import { DEFAULT_IMAGE, loadConfig } from "../../src/config.js";

describe("Azure settings the aci provider reads", () => {
  test(
    "ARM retry tuning comes from ACIIMG_ARM_MAX_RETRIES " + "and ACIIMG_ARM_RETRY_DELAY, else the SDK defaults apply",
    () => {
      expect(loadConfig({}, {}, "/nonexistent").azure).toMatchObject({
        armMaxRetries: undefined,
        armRetryDelayMs: undefined,
      });
      const tuned = loadConfig(
        {},
        { ACIIMG_ARM_MAX_RETRIES: "0", ACIIMG_ARM_RETRY_DELAY: "10ms" },
        "/nonexistent",
      ).azure;
      expect(tuned).toMatchObject({ armMaxRetries: 0, armRetryDelayMs: 10 });
    },
  );

  test.each(["-1", "11", "two", "1.5"])("ACIIMG_ARM_MAX_RETRIES=%s is a usage error naming the setting", (value) => {
    expect(() => loadConfig({}, { ACIIMG_ARM_MAX_RETRIES: value }, "/nonexistent")).toThrow(
      /ACIIMG_ARM_MAX_RETRIES: expected an integer from 0 to 10/,
    );
  });

  test("the poll interval accepts milliseconds so tests and impatient users can poll fast", () => {
    expect(loadConfig({}, { ACIIMG_POLL_INTERVAL: "20ms" }, "/nonexistent").azure.pollIntervalMs).toBe(20);
  });

  test("AZURE_ARM_ENDPOINT selects another cloud's Resource Manager, without a trailing slash", () => {
    expect(
      loadConfig({}, { AZURE_ARM_ENDPOINT: "https://management.usgovcloudapi.net/" }, "/nonexistent").azure.armEndpoint,
    ).toBe("https://management.usgovcloudapi.net");
  });

  test("the default image is aio-imaginary from ghcr.io, not Docker Hub, pinned to a dated tag", () => {
    expect(DEFAULT_IMAGE).toMatch(/^ghcr\.io\/nextcloud-releases\/aio-imaginary:\d{8}_\d{6}$/);
    expect(loadConfig({}, {}, "/nonexistent").image).toBe(DEFAULT_IMAGE);
    // Docker Hub stays an explicit choice, taken as given.
    const hub = "nextcloud/aio-imaginary:20260609_115915";
    expect(loadConfig({ image: hub }, {}, "/nonexistent").image).toBe(hub);
    expect(loadConfig({}, { ACIIMG_IMAGE: hub }, "/nonexistent").image).toBe(hub);
  });

  test("ACIIMG_STATE_BLOB_URL wins over the host's AzureWebJobsStorage, which every Functions app has", () => {
    const url = "https://state.blob.core.windows.net/aciimg";
    const both = loadConfig(
      {},
      { AzureWebJobsStorage: "UseDevelopmentStorage=true", ACIIMG_STATE_BLOB_URL: url },
      "/nonexistent",
    );
    expect(both.blob).toMatchObject({ containerUrl: url, connectionString: undefined });
    const hostOnly = loadConfig({}, { AzureWebJobsStorage: "UseDevelopmentStorage=true" }, "/nonexistent");
    expect(hostOnly.blob.connectionString).toBe("UseDevelopmentStorage=true");
    const explicit = loadConfig(
      {},
      { ACIIMG_STATE_BLOB_CONNECTION_STRING: "UseDevelopmentStorage=true", ACIIMG_STATE_BLOB_URL: url },
      "/nonexistent",
    );
    expect(explicit.blob.connectionString).toBe("UseDevelopmentStorage=true");
  });
});
