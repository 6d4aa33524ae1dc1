/**
 * Access to Azure Resource Manager for the aci provider: one lazily made
 * `ContainerInstanceManagementClient` (endpoint from AZURE_ARM_ENDPOINT, SDK retries tunable),
 * and the few group reads and deletes the provider and its create flow share. Every SDK error
 * leaves here as an AciimgError (errors.ts).
 */
import type { ContainerGroup, ContainerInstanceManagementClient } from "@azure/arm-containerinstance";
import type { TokenCredential } from "@azure/core-auth";
import type { AzureConfig } from "../../config.js";
import { AciimgError } from "../../errors.js";
import { mapAzureError, type AzureErrorContext } from "./errors.js";
import { CONTAINER_NAME } from "./spec.js";
import { statusOf } from "./state.js";

export interface ArmAccess {
  readonly azure: AzureConfig;
  /** The subscription and resource group, or E_CONFIG naming what is missing. */
  configured(action: string): { subscriptionId: string; resourceGroup: string };
  /** The client (made on first use, when the SDK is loaded). */
  arm(action: string): Promise<ContainerInstanceManagementClient>;
  /** Context for error messages. */
  context(action: string, extra?: Partial<AzureErrorContext>): AzureErrorContext;
  /** GET the group; undefined when it does not exist. */
  getGroup(
    resourceGroup: string,
    name: string,
    action: string,
    signal?: AbortSignal,
  ): Promise<ContainerGroup | undefined>;
  /** DELETE the group; already gone is success. */
  deleteGroup(resourceGroup: string, name: string, signal?: AbortSignal): Promise<void>;
  /** The container's last few log lines on one line, for failure messages (best effort, "" on error). */
  tailLogs(resourceGroup: string, name: string, signal: AbortSignal): Promise<string>;
}

/**
 * Makes the ARM access for `azure`; `credential` defaults to DefaultAzureCredential, created
 * on first use. (Long only for its methods, each short: they share the lazily made client.)
 */
export function createArmAccess(azure: AzureConfig, credential?: TokenCredential): ArmAccess {
  let client: Promise<ContainerInstanceManagementClient> | undefined;

  function configured(action: string): { subscriptionId: string; resourceGroup: string } {
    if (!azure.subscriptionId || !azure.resourceGroup) {
      const missing = [
        !azure.subscriptionId && "subscription (AZURE_SUBSCRIPTION_ID or --subscription)",
        !azure.resourceGroup && "resource group (AZURE_RESOURCE_GROUP or --resource-group)",
      ]
        .filter(Boolean)
        .join(" and ");
      throw new AciimgError(
        "E_CONFIG",
        `cannot ${action}: no Azure ${missing} configured. Set it in the environment, a flag, or aciimg.config.json.`,
      );
    }
    return { subscriptionId: azure.subscriptionId, resourceGroup: azure.resourceGroup };
  }

  // The SDK costs about half a second of start-up, and a call to a running backend needs no ARM
  // (its record and pinned certificate are in the state): load it only for the first ARM request.
  async function makeClient(subscriptionId: string): Promise<ContainerInstanceManagementClient> {
    const [{ ContainerInstanceManagementClient }, { DefaultAzureCredential }] = await Promise.all([
      import("@azure/arm-containerinstance"),
      import("@azure/identity"),
    ]);
    return new ContainerInstanceManagementClient(credential ?? new DefaultAzureCredential(), subscriptionId, {
      endpoint: azure.armEndpoint,
      ...(azure.armMaxRetries !== undefined || azure.armRetryDelayMs !== undefined
        ? {
            retryOptions: {
              ...(azure.armMaxRetries !== undefined ? { maxRetries: azure.armMaxRetries } : {}),
              ...(azure.armRetryDelayMs !== undefined
                ? { retryDelayInMs: azure.armRetryDelayMs, maxRetryDelayInMs: azure.armRetryDelayMs * 8 }
                : {}),
            },
          }
        : {}),
    });
  }

  async function arm(action: string): Promise<ContainerInstanceManagementClient> {
    const { subscriptionId } = configured(action);
    client ??= makeClient(subscriptionId);
    return client;
  }

  function context(action: string, extra: Partial<AzureErrorContext> = {}): AzureErrorContext {
    return {
      action,
      resourceGroup: azure.resourceGroup,
      subscriptionId: azure.subscriptionId,
      location: azure.location,
      ...extra,
    };
  }

  /** GET the group; undefined when it does not exist (a missing resource group is an error). */
  async function getGroup(
    resourceGroup: string,
    name: string,
    action: string,
    signal?: AbortSignal,
  ): Promise<ContainerGroup | undefined> {
    try {
      return await (await arm(action)).containerGroups.get(resourceGroup, name, { abortSignal: signal });
    } catch (error) {
      if (statusOf(error) === 404 && (error as { code?: string }).code !== "ResourceGroupNotFound") return undefined;
      throw mapAzureError(error, context(action));
    }
  }

  async function deleteGroup(resourceGroup: string, name: string, signal?: AbortSignal): Promise<void> {
    const action = `delete container group ${name}`;
    try {
      await (await arm(action)).containerGroups.beginDeleteAndWait(resourceGroup, name, {
        updateIntervalInMs: azure.pollIntervalMs,
        abortSignal: signal,
      });
    } catch (error) {
      // 404 (group or resource group already gone) is success: delete is idempotent.
      if (statusOf(error) === 404) return;
      throw mapAzureError(error, context(action));
    }
  }

  async function tailLogs(resourceGroup: string, name: string, signal: AbortSignal): Promise<string> {
    try {
      const client = await arm("logs");
      const options = { tail: 5, abortSignal: signal };
      const result = await client.containers.listLogs(resourceGroup, name, CONTAINER_NAME, options);
      return (result.content ?? "").trim().split("\n").join(" | ").slice(0, 600);
    } catch {
      return "";
    }
  }

  return { azure, configured, arm, context, getGroup, deleteGroup, tailLogs };
}
