/**
 * The Azure settings: ARM access for the aci provider and the Blob container the Functions app
 * keeps its state in.
 */
import type { AzureConfig, BlobStateConfig, ConfigOverrides } from "./config-types.js";
import { armEndpointOf, armRetries } from "./config-values.js";
import { str, type Env, type Sources } from "./config-sources.js";
import { parseDuration } from "./units.js";

/** Where the state is kept in Azure Blob storage (the Functions app's state store). */
export function blobStateOf(env: Env, { pick }: Sources): BlobStateConfig {
  return {
    // An explicit ACIIMG_STATE_BLOB_URL (the state's own container, reached by the managed
    // identity) wins over the host's AzureWebJobsStorage, which a Functions app always has.
    connectionString:
      env.ACIIMG_STATE_BLOB_CONNECTION_STRING ||
      (env.ACIIMG_STATE_BLOB_URL ? undefined : env.AzureWebJobsStorage) ||
      undefined,
    containerUrl: env.ACIIMG_STATE_BLOB_URL || undefined,
    container: str(pick(undefined, ["ACIIMG_STATE_BLOB_CONTAINER"], "blobContainer")) ?? "aciimg",
    blobName: "state.json",
  };
}

/** The Azure settings (aci provider, ARM access). */
export function azureConfigOf(
  overrides: ConfigOverrides,
  env: Env,
  { setting, pick }: Sources,
  { subscriptionId, resourceGroup }: { subscriptionId: string | undefined; resourceGroup: string | undefined },
): AzureConfig {
  const timeout = setting(overrides.timeout, "--timeout", ["ACIIMG_CREATE_TIMEOUT"], "timeout");
  const pollInterval = setting(undefined, "", ["ACIIMG_POLL_INTERVAL"], "pollInterval");
  return {
    subscriptionId,
    resourceGroup,
    location: str(pick(overrides.location, ["ACIIMG_LOCATION", "AZURE_LOCATION"], "location")) ?? "westeurope",
    armEndpoint: armEndpointOf(setting(undefined, "", ["AZURE_ARM_ENDPOINT"])),
    registryServer: str(pick(overrides.registryServer, ["ACIIMG_REGISTRY_SERVER"])),
    registryUsername: str(pick(overrides.registryUsername, ["ACIIMG_REGISTRY_USERNAME"], "registryUsername")),
    registryPassword: env.ACIIMG_REGISTRY_PASSWORD || undefined,
    createTimeoutMs: timeout === undefined ? 10 * 60_000 : parseDuration(timeout.value, timeout.from),
    pollIntervalMs: pollInterval === undefined ? 2000 : parseDuration(pollInterval.value, pollInterval.from),
    armMaxRetries: env.ACIIMG_ARM_MAX_RETRIES ? armRetries(env.ACIIMG_ARM_MAX_RETRIES) : undefined,
    armRetryDelayMs: env.ACIIMG_ARM_RETRY_DELAY
      ? parseDuration(env.ACIIMG_ARM_RETRY_DELAY, "ACIIMG_ARM_RETRY_DELAY")
      : undefined,
  };
}
