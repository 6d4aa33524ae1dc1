import type { ContainerGroup } from "@azure/arm-containerinstance";
import { describe, expect, test } from "vitest";
import { conflictWith } from "../../src/providers/aci/owner.js";

const where = { resourceGroup: "images", groupName: "aciimg-default", backendName: "default" };
const group = (tags?: Record<string, string>): ContainerGroup => ({
  containers: [],
  osType: "Linux",
  ...(tags ? { tags } : {}),
});
const ours = "0123456789abcdef0123456789abcdef";

describe("conflictWith", () => {
  test("a group with our owner id is ours to replace", () => {
    expect(conflictWith(group({ "managed-by": "aciimg", "aciimg-owner": ours }), where, ours)).toBeUndefined();
  });

  test("another state's group: E_CONFLICT naming the group, its owner, --name and down --force", () => {
    const error = conflictWith(group({ "managed-by": "aciimg", "aciimg-owner": "fedcba9876543210" }), where, ours);
    expect(error).toMatchObject({
      code: "E_CONFLICT",
      exitCode: 5,
      detail: { group: "aciimg-default", resourceGroup: "images", owner: "fedcba9876543210" },
    });
    expect(error?.message).toBe(
      "container group aciimg-default " +
        "in resource group images belongs to another aciimg state (owner fedcba98…): it was left as it is. " +
        "Use --name to give this state a backend of its own, " +
        "or, if nobody uses that group, delete it with `aciimg down --name default --force`.",
    );
  });

  test("a group from before owner ids, and one aciimg did not make, are never ours", () => {
    expect(conflictWith(group({ "managed-by": "aciimg" }), where, ours)?.message).toContain(
      "was made by an aciimg without owner ids",
    );
    const foreign = conflictWith(group({ "aciimg-owner": ours }), where, ours);
    expect(foreign?.message).toContain("was not made by aciimg");
    expect(foreign?.message).not.toContain("--force");
    expect(conflictWith(group(), where, ours)).toMatchObject({ code: "E_CONFLICT" });
  });
});
