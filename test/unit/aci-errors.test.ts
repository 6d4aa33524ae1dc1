import { RestError, createHttpHeaders, createPipelineRequest } from "@azure/core-rest-pipeline";
import { AggregateAuthenticationError, CredentialUnavailableError } from "@azure/identity";
import { describe, expect, test } from "vitest";
import { mapAzureError } from "../../src/providers/aci/errors.js";

const ctx = {
  action: "create container group aciimg-default",
  resourceGroup: "rg-1",
  subscriptionId: "sub-1",
  location: "westeurope",
  image: "nextcloud/aio-imaginary:1",
};

function restError(statusCode: number, code: string, message: string, headers: Record<string, string> = {}): RestError {
  const request = createPipelineRequest({ url: "https://management.azure.com/x" });
  return new RestError(message, {
    statusCode,
    code,
    request,
    response: { status: statusCode, headers: createHttpHeaders(headers), request },
  });
}

describe("mapAzureError", () => {
  test("no credentials explains az login, service principal and managed identity, listing what was tried", () => {
    const error = new AggregateAuthenticationError(
      [new CredentialUnavailableError("Azure CLI could not be found")],
      "ChainedTokenCredential authentication failed.",
    );
    const mapped = mapAzureError(error, ctx);
    expect(mapped.code).toBe("E_NO_CREDENTIALS");
    expect(mapped.message).toMatch(/az login/);
    expect(mapped.message).toMatch(/AZURE_CLIENT_SECRET/);
    expect(mapped.message).toMatch(/managed identity/);
    expect(mapped.message).toContain("Azure CLI could not be found");
    expect(mapped.cause).toBe(error);
  });

  test.each([
    [404, "ResourceGroupNotFound", "E_RESOURCE_GROUP_NOT_FOUND", /az group create -n rg-1/],
    [
      403,
      "AuthorizationFailed",
      "E_FORBIDDEN",
      /"aciimg operator" role.*aciimg-operator\.role\.json.*minutes ago.*few minutes/s,
    ],
    [
      409,
      "MissingSubscriptionRegistration",
      "E_CONFIG",
      /sub-1 is not registered.*`az provider register --namespace [^`]*--wait`/s,
    ],
    [400, "ContainerGroupQuotaReached", "E_QUOTA", /quota/],
    [409, "ServiceUnavailable", "E_CAPACITY", /another --location/],
    [409, "RegistryErrorResponse", "E_IMAGE_PULL", /ghcr\.io.*az acr import --name <acr>.*--registry-server <acr>/s],
    [400, "InaccessibleImage", "E_IMAGE_PULL", /--image/],
    [500, "InternalServerError", "E_AZURE", /retry/],
  ] as const)("RestError %i %s becomes %s with advice", (status, code, expected, advice) => {
    const mapped = mapAzureError(restError(status, code, `ARM says ${code}`), ctx);
    expect(mapped.code).toBe(expected);
    expect(mapped.message).toMatch(advice);
    expect(mapped.message).toContain("create container group aciimg-default");
  });

  test("429 reports Retry-After when ARM sent one", () => {
    const mapped = mapAzureError(
      restError(429, "SubscriptionRequestsThrottled", "slow down", { "retry-after": "17" }),
      ctx,
    );
    expect(mapped.code).toBe("E_THROTTLED");
    expect(mapped.message).toMatch(/17 s/);
  });

  test("a failed long-running operation with a known ARM code maps by that code and shows events", () => {
    const lro = new Error("The long-running operation has failed. InaccessibleImage. The image 'x' is not accessible.");
    const mapped = mapAzureError(lro, { ...ctx, events: ["Failed: Failed to pull image"] });
    expect(mapped.code).toBe("E_IMAGE_PULL");
    expect(mapped.message).toContain("Failed to pull image");
  });

  test("a failed long-running operation for an unregistered subscription is E_CONFIG with the register command", () => {
    const lro = new Error(
      "The long-running operation has failed. MissingSubscriptionRegistration. " +
        "The subscription is not registered to use namespace 'Microsoft.ContainerInstance'.",
    );
    const mapped = mapAzureError(lro, ctx);
    expect(mapped.code).toBe("E_CONFIG");
    expect(mapped.message).toContain("az provider register --namespace Microsoft.ContainerInstance --wait");
    expect(mapped.detail).toEqual({ armCode: "MissingSubscriptionRegistration" });
  });

  test("a failed long-running operation with an unknown code is E_PROVISION with the container's last events", () => {
    const mapped = mapAzureError(new Error("The long-running operation has failed. ContainerGroupFailed. boom"), {
      ...ctx,
      events: ["BackOff: restarting"],
    });
    expect(mapped.code).toBe("E_PROVISION");
    expect(mapped.message).toContain("BackOff: restarting");
  });

  test("errors are matched by name, not instanceof (duplicate package copies)", () => {
    const foreign = Object.assign(new Error("denied"), {
      name: "RestError",
      statusCode: 403,
      code: "AuthorizationFailed",
    });
    expect(mapAzureError(foreign, ctx).code).toBe("E_FORBIDDEN");
  });
});
