import type { ContainerGroup } from "@azure/arm-containerinstance";
import { describe, expect, test } from "vitest";
import { lastEvents, liveStateOf, parseGroupId } from "../../src/providers/aci/state.js";

function group(
  provisioningState: string,
  runtime: string,
  container: string | undefined,
  ip?: string,
  events: Array<{ name: string; message: string }> = [],
): ContainerGroup {
  return {
    location: "westeurope",
    osType: "Linux",
    provisioningState,
    instanceView: { state: runtime },
    ipAddress: { type: "Public", ports: [{ port: 9000 }], ...(ip ? { ip } : {}) },
    containers: [
      {
        name: "imaginary",
        image: "img",
        resources: { requests: { cpu: 1, memoryInGB: 1.5 } },
        ...(container ? { instanceView: { currentState: { state: container }, events } } : {}),
      },
    ],
  } as ContainerGroup;
}

describe("liveStateOf", () => {
  test("Succeeded + Running + an IP is running at https://<ip>:9000 (TLS only)", () => {
    expect(liveStateOf(group("Succeeded", "Running", "Running", "20.1.2.3"))).toEqual({
      state: "running",
      endpoint: "https://20.1.2.3:9000",
    });
  });

  test("without an IP yet it is still provisioning (the 201 body has none, docs/reference/arm-notes.md §1.3)", () => {
    expect(liveStateOf(group("Succeeded", "Running", "Running")).state).toBe("provisioning");
  });

  test.each(["Pending", "Creating", "Repairing"])("provisioningState %s is provisioning", (state) => {
    expect(liveStateOf(group(state, "Pending", "Waiting")).state).toBe("provisioning");
  });

  test("Failed is failed, with the container's last events as detail", () => {
    const live = liveStateOf(
      group("Failed", "Pending", "Waiting", undefined, [{ name: "Failed", message: "Failed to pull image" }]),
    );
    expect(live).toEqual({ state: "failed", detail: expect.stringContaining("Failed: Failed to pull image") });
  });

  test("a stopped group or a terminated container is failed, not running", () => {
    expect(liveStateOf(group("Succeeded", "Stopped", "Terminated", "20.1.2.3")).state).toBe("failed");
    expect(liveStateOf(group("Succeeded", "Running", "Terminated", "20.1.2.3")).state).toBe("failed");
  });
});

describe("parseGroupId and lastEvents", () => {
  test("reads the resource group and name from an ARM id, case-insensitively", () => {
    expect(
      parseGroupId(
        "/subscriptions/s/resourcegroups/My-RG/providers/microsoft.containerinstance/containerGroups/aciimg-x",
      ),
    ).toEqual({ resourceGroup: "My-RG", name: "aciimg-x" });
    expect(parseGroupId("local:123@4567")).toBeUndefined();
  });

  test("keeps the newest three events", () => {
    const events = ["a", "b", "c", "d"].map((name) => ({ name, message: `m${name}` }));
    expect(lastEvents(group("Failed", "Pending", "Waiting", undefined, events))).toEqual(["b: mb", "c: mc", "d: md"]);
  });
});
