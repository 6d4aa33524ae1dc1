/**
 * Maps what the Azure SDK throws (RestError, AggregateAuthenticationError, the plain Error of a
 * failed long-running operation) to an AciimgError saying what happened and what to do.
 * Errors are matched by `name`, never `instanceof`: duplicate package copies break instanceof
 * (docs/reference/arm-notes.md §3.2, §4.3). No @azure import here, so it is cheap to load.
 */
import { AciimgError, isAbortError, isAciimgError, type ErrorCode } from "../../errors.js";

/** What was being done, for messages. */
export interface AzureErrorContext {
  /** e.g. "create container group aciimg-default". */
  action: string;
  resourceGroup?: string;
  subscriptionId?: string;
  location?: string;
  image?: string;
  /** The container's last events ("Failed: Failed to pull image …"), when known. */
  events?: string[];
}

interface RestErrorLike {
  name: string;
  message: string;
  statusCode?: number;
  code?: string;
  response?: { headers?: { get?(name: string): string | undefined } };
}

function asRestError(error: unknown): RestErrorLike | undefined {
  if (error instanceof Error && error.name === "RestError") return error as unknown as RestErrorLike;
  return undefined;
}

const credentialErrorNames = new Set([
  "AggregateAuthenticationError",
  "CredentialUnavailableError",
  "AuthenticationError",
  "AuthenticationRequiredError",
]);

const NO_CREDENTIALS_HELP =
  "Sign in with `az login`, or set a service principal (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET), " +
  "or run where a managed identity is available (App Service/Functions: " +
  "IDENTITY_ENDPOINT + IDENTITY_HEADER; VMs: IMDS).";

// ARM caches role assignments, so a new one can take minutes to apply and the first `up` after it may still be
// refused (Azure RBAC troubleshooting docs, quoted in Microsoft Q&A 524792: "up to 30 minutes").
const ROLE_HELP =
  'Grant the identity the "aciimg operator" role (deploy/aciimg-operator.role.json: the five actions aciimg uses) ' +
  "on the resource group, e.g. " +
  '`az role assignment create --assignee <id> --role "aciimg operator" ' +
  "--scope /subscriptions/<sub>/resourceGroups/<rg>` " +
  '(docs/azure.md "Setup"). ' +
  "If the role was assigned minutes ago, it may take a few minutes to apply: wait and retry.";

// A subscription that never used ACI answers every request with 409 MissingSubscriptionRegistration
// (Azure/aci-connector-k8s#33, MicrosoftDocs/azure-docs#28770); registering the namespace is a one-off step.
const REGISTER_HELP =
  "Register it once with `az provider register --namespace Microsoft.ContainerInstance --wait` " +
  "(needs Contributor or Owner on the subscription), then retry.";

/** A failed LRO carries the ARM error only in its message (docs/reference/arm-notes.md §2.3). */
function lroErrorCode(message: string): string | undefined {
  const match = /^The long-running operation has failed\.\s+([A-Za-z][A-Za-z0-9]*)\./.exec(message);
  return match?.[1];
}

function retryAfterOf(error: RestErrorLike): string | undefined {
  const get = error.response?.headers?.get;
  return typeof get === "function" ? get.call(error.response?.headers, "retry-after") : undefined;
}

function eventsText(ctx: AzureErrorContext): string {
  return ctx.events && ctx.events.length > 0 ? ` Last container events: ${ctx.events.join("; ")}.` : "";
}

/** The AciimgError for an ARM error code (from a RestError or a failed LRO), if it is one we know. */
function byArmCode(
  armCode: string | undefined,
  detail: string,
  ctx: AzureErrorContext,
  cause: unknown,
): AciimgError | undefined {
  const make = (code: ErrorCode, text: string) => new AciimgError(code, text, { cause, detail: { armCode } });
  switch (armCode) {
    case "ResourceGroupNotFound":
      return make(
        "E_RESOURCE_GROUP_NOT_FOUND",
        `cannot ${ctx.action}: resource ` +
          `group "${ctx.resourceGroup}" does not exist in subscription ${ctx.subscriptionId}. ` +
          `Create it with \`az group create -n ${ctx.resourceGroup} -l ${ctx.location ?? "<region>"}\`, ` +
          `or set AZURE_RESOURCE_GROUP / --resource-group to an existing one.`,
      );
    case "SubscriptionNotFound":
    case "InvalidSubscriptionId":
      return make(
        "E_CONFIG",
        `cannot ${ctx.action}: subscription "${ctx.subscriptionId}" was not found (${detail}). ` +
          `Check AZURE_SUBSCRIPTION_ID / --subscription (\`az account list -o table\`).`,
      );
    case "MissingSubscriptionRegistration":
      return make(
        "E_CONFIG",
        `cannot ${ctx.action}: subscription ${ctx.subscriptionId ?? ""} is not registered to use ` +
          `Azure Container Instances (Microsoft.ContainerInstance) (${detail}). ${REGISTER_HELP}`,
      );
    case "AuthorizationFailed":
    case "LinkedAuthorizationFailed":
      return make(
        "E_FORBIDDEN",
        `cannot ${ctx.action}: the signed-in identity is not allowed to (${detail}). ${ROLE_HELP}`,
      );
    case "ContainerGroupQuotaReached":
      return make(
        "E_QUOTA",
        `cannot ${ctx.action}: the Container ` +
          `Instances quota in ${ctx.location ?? "the region"} is used up (${detail}). ` +
          "Delete unused container groups (`aciimg reap`), " +
          "use fewer --cpu/--memory, another --location, or request a quota increase.",
      );
    case "ServiceUnavailable":
      return make(
        "E_CAPACITY",
        `cannot ${ctx.action}: Azure has ` +
          `no capacity for this container group in ${ctx.location ?? "the region"} right now (${detail}). ` +
          "Retry later, ask for less --cpu/--memory, or use another --location.",
      );
    case "RegistryErrorResponse":
      return make(
        "E_IMAGE_PULL",
        `cannot ${ctx.action}: the registry refused to serve ${ctx.image ?? "the image"} (${detail}). ` +
          "Docker Hub limits anonymous pulls per IP and ACI pulls from shared IPs: use the default image " +
          "from ghcr.io (drop --image / ACIIMG_IMAGE), or copy the image into your own Azure Container Registry " +
          "with `az acr import --name <acr> --source <image> --image <name:tag>` and use " +
          "--image <acr>.azurecr.io/<name:tag> with --registry-server <acr>.azurecr.io, --registry-username " +
          'and ACIIMG_REGISTRY_PASSWORD (docs/azure.md "What gets created").',
      );
    case "InaccessibleImage":
      return make(
        "E_IMAGE_PULL",
        `cannot ${ctx.action}: image ${ctx.image ?? ""} is not accessible (${detail}). ` +
          "Check the --image name and tag, " +
          "and for a private registry --registry-server, --registry-username and ACIIMG_REGISTRY_PASSWORD.",
      );
    case "SubscriptionRequestsThrottled":
    case "TooManyRequests":
      return make(
        "E_THROTTLED",
        `cannot ${ctx.action}: Azure Resource Manager is throttling requests (${detail}). Wait a minute and retry.`,
      );
    default:
      return undefined;
  }
}

/** Maps any error from an Azure SDK call to an AciimgError (AciimgErrors pass through). */
export function mapAzureError(error: unknown, ctx: AzureErrorContext): AciimgError {
  if (isAciimgError(error)) return error;
  if (isAbortError(error)) {
    return new AciimgError("E_ABORTED", `${ctx.action}: cancelled`, { cause: error });
  }
  if (error instanceof Error && credentialErrorNames.has(error.name)) return noCredentialsError(error, ctx);
  const rest = asRestError(error);
  if (rest) return armAnswerError(rest, error, ctx);
  if (error instanceof Error && error.message.startsWith("The long-running operation has failed")) {
    return provisionFailedError(error, ctx);
  }
  if (error instanceof Error && /Operation was canceled/i.test(error.message)) {
    return new AciimgError("E_PROVISION", `cannot ${ctx.action}: Azure cancelled the operation.${eventsText(ctx)}`, {
      cause: error,
    });
  }
  return new AciimgError(
    "E_INTERNAL",
    `cannot ${ctx.action}: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  );
}

/** No credential in the chain worked: each one's reason, and how to log in. */
function noCredentialsError(error: Error, ctx: AzureErrorContext): AciimgError {
  const reasons = (error as Error & { errors?: unknown[] }).errors;
  const list = Array.isArray(reasons)
    ? reasons.map((e) => `  - ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`).join("\n")
    : `  - ${error.message.split("\n")[0]}`;
  return new AciimgError(
    "E_NO_CREDENTIALS",
    `cannot ${ctx.action}: no Azure credentials. ${NO_CREDENTIALS_HELP}\nTried:\n${list}`,
    {
      cause: error,
    },
  );
}

/** ARM answered with an error (or not at all): by its error code where known, else by its status. */
function armAnswerError(rest: RestErrorLike, error: unknown, ctx: AzureErrorContext): AciimgError {
  const detail = `${rest.statusCode ?? "no response"} ${rest.code ?? ""}: ${rest.message.slice(0, 300)}`
    .replace(/\s+/g, " ")
    .trim();
  const known = rest.statusCode === 429 ? undefined : byArmCode(rest.code, detail, ctx, error);
  if (known) return known;
  if (rest.statusCode === 401) {
    return new AciimgError(
      "E_NO_CREDENTIALS",
      `cannot ${ctx.action}: Azure rejected the token (${detail}). ${NO_CREDENTIALS_HELP}`,
      {
        cause: error,
      },
    );
  }
  if (rest.statusCode === 403) {
    return new AciimgError("E_FORBIDDEN", `cannot ${ctx.action}: access denied (${detail}). ${ROLE_HELP}`, {
      cause: error,
    });
  }
  if (rest.statusCode === 429) {
    const after = retryAfterOf(rest);
    return new AciimgError(
      "E_THROTTLED",
      `cannot ${ctx.action}: Azure Resource Manager is throttling requests (${detail})` +
        `${after ? `; it asked to retry after ${after} s` : ""}. Wait and retry; fewer parallel aciimg runs help.`,
      { cause: error, detail: { retryAfter: after } },
    );
  }
  if (rest.statusCode !== undefined && rest.statusCode >= 500) {
    return new AciimgError(
      "E_AZURE",
      `cannot ${ctx.action}: Azure answered ${detail} after retries. ` +
        `This is usually transient: retry in a minute; see https://status.azure.com.`,
      { cause: error },
    );
  }
  if (rest.statusCode === undefined) {
    return new AciimgError(
      "E_AZURE",
      `cannot ${ctx.action}: Azure Resource Manager is unreachable (${detail}). ` +
        `Check the network and AZURE_ARM_ENDPOINT.`,
      { cause: error },
    );
  }
  return new AciimgError("E_AZURE", `cannot ${ctx.action}: Azure answered ${detail}.`, { cause: error });
}

/** A long-running operation (a group's create) failed: by ARM's error code where known, with the container's events. */
function provisionFailedError(error: Error, ctx: AzureErrorContext): AciimgError {
  const armCode = lroErrorCode(error.message);
  const detail = error.message.replace(/^The long-running operation has failed\.?\s*/, "") || "no error details";
  const known = byArmCode(armCode, detail, ctx, error);
  if (known) {
    if (ctx.events?.length) known.message += eventsText(ctx);
    return known;
  }
  return new AciimgError(
    "E_PROVISION",
    `cannot ${ctx.action}: provisioning failed (${detail}).${eventsText(ctx)} Check the image, ` +
      `its tag and the registry settings.`,
    { cause: error, detail: { armCode } },
  );
}
