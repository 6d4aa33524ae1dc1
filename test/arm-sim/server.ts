/**
 * A simulator of the ARM container-group API (2023-05-01) that the real
 * `@azure/arm-containerinstance` client and the real `DefaultAzureCredential` talk to unchanged:
 * HTTPS on 127.0.0.1 (certificate from the CA made in global-setup.ts), a managed-identity token
 * endpoint, long-running operations via Azure-AsyncOperation, paging, logs, ARM errors, throttling,
 * and real backend processes as the containers. Every request is recorded; faults are set per test.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createTestCa, issueServerCert, type TestCa } from "./ca.js";
import { launchBackend, type ContainerLauncher, type RunningContainer } from "./containers.js";
import { CA_DIR_ENV } from "./global-setup.js";
import { defaultFaults, planFor, quotaRefusal, type Faults } from "./faults.js";
import { groupFromPut, invalidPut, renderGroup, type PutBody, type SimGroup } from "./groups.js";
import { createLifecycle, type Operation } from "./lifecycle.js";
import { startIdentityEndpoint } from "./identity.js";
import { servedBy, type ServedRequest } from "./served.js";

export { armErrors, type Faults } from "./faults.js";

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  status: number;
}

export interface ArmSimOptions {
  subscriptionId?: string;
  resourceGroups?: string[];
  /** Groups per list page (nextLink paging). Default 2. */
  pageSize?: number;
  launcher?: ContainerLauncher;
}

export interface ArmSim {
  endpoint: string;
  subscriptionId: string;
  resourceGroup: string;
  identityEndpoint: string;
  identityHeader: string;
  caPath: string;
  faults: Faults;
  requests: RecordedRequest[];
  /** Environment for a spawned CLI talking to this simulator with managed identity. */
  env(): Record<string, string>;
  groups(): SimGroup[];
  group(name: string): SimGroup | undefined;
  /** Deletes a group as if someone did it in the portal. */
  deleteOutOfBand(name: string): Promise<void>;
  /** Requests matching method and path pattern. */
  count(method: string, pathPattern?: RegExp): number;
  /**
   * Restarts a running group's container as ACI may (host maintenance): the same command and
   * environment, a new IP. Resolves with the new IP.
   */
  restartOutOfBand(name: string): Promise<string>;
  /**
   * The "TLS handshake error" lines of every container ever started: a client that reached a
   * group without TLS (or with a failed handshake) leaves one, as imaginary (Go) logs it.
   */
  handshakeErrors(): string[];
  /**
   * The image requests the backend of group `name` answered since its container started (any
   * status; `/health` not counted), from its access log, including every request answered before
   * the call (served.ts). Empty for no such group or no container yet; bounded by 10 s.
   */
  served(name: string): Promise<ServedRequest[]>;
  /** `(await served(name)).length`. */
  servedCount(name: string): Promise<number>;
  /** A server certificate for `ip` signed by the simulator's CA, which the tests' Node trusts (NODE_EXTRA_CA_CERTS). */
  issueTrustedCert(ip: string): { certPem: string; keyPem: string };
  close(): Promise<void>;
}

function loadCa(): { ca: TestCa; caPath: string | undefined } {
  const dir = process.env[CA_DIR_ENV];
  if (dir)
    return {
      ca: { certPem: readFileSync(join(dir, "ca.pem"), "utf8"), keyPem: readFileSync(join(dir, "ca-key.pem"), "utf8") },
      caPath: join(dir, "ca.pem"),
    };
  return { ca: createTestCa(), caPath: undefined };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export async function startArmSim(options: ArmSimOptions = {}): Promise<ArmSim> {
  const subscriptionId = options.subscriptionId ?? randomUUID();
  const resourceGroups = new Set((options.resourceGroups ?? ["aciimg-rg"]).map((g) => g.toLowerCase()));
  const pageSize = options.pageSize ?? 2;
  const started: RunningContainer[] = [];
  const baseLauncher = options.launcher ?? launchBackend;
  const launcher: ContainerLauncher = async (request, signal) => {
    const container = await baseLauncher(request, signal);
    started.push(container);
    return container;
  };
  const identity = await startIdentityEndpoint();
  const { ca, caPath } = loadCa();
  const cert = issueServerCert(ca);
  const groups = new Map<string, SimGroup>(); // key: lower-case id
  const operations = new Map<string, Operation>();
  const requests: RecordedRequest[] = [];
  const faults = defaultFaults();
  const closing = new AbortController();
  const { advance } = createLifecycle({ groups, launcher, signal: closing.signal });
  let endpoint = "";

  const server = createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { error: { code: "InternalServerError", message: String(error) } });
    });
  });

  function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
    const requestId = randomUUID();
    res.writeHead(status, {
      "cache-control": "no-cache",
      "x-ms-request-id": `westeurope:${requestId}`,
      "x-ms-correlation-request-id": requestId,
      ...(body === undefined ? {} : { "content-type": "application/json; charset=utf-8" }),
      ...headers,
    });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  }

  const armError = (
    res: ServerResponse,
    status: number,
    code: string,
    message: string,
    headers?: Record<string, string>,
  ) => send(res, status, { error: { code, message } }, headers);

  function takeFault<T extends { count: number; methods?: string[] }>(
    fault: T | undefined,
    method: string,
  ): T | undefined {
    if (!fault || fault.count <= 0) return undefined;
    if (fault.methods && !fault.methods.includes(method)) return undefined;
    fault.count -= 1;
    return fault;
  }

  async function removeGroup(g: SimGroup): Promise<void> {
    groups.delete(g.id.toLowerCase());
    g.removed.abort();
    await g.starting;
    await g.container?.stop();
  }

  const writeHeaders = {
    "x-ms-ratelimit-remaining-subscription-writes": "1199",
    "x-ms-ratelimit-remaining-subscription-resource-requests-pt5m": "99",
    "x-ms-ratelimit-remaining-subscription-resource-requests-pt1h": "299",
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", endpoint);
    const method = req.method ?? "GET";
    const body = await readBody(req);
    const record: RecordedRequest = {
      method,
      path: url.pathname,
      query: url.searchParams,
      headers: { ...req.headers },
      body,
      status: 0,
    };
    requests.push(record);
    const reply = res.writeHead.bind(res);
    res.writeHead = ((status: number, ...rest: unknown[]) => {
      record.status = status;
      return (reply as (...a: unknown[]) => ServerResponse)(status, ...rest);
    }) as typeof res.writeHead;

    const auth = req.headers.authorization ?? "";
    if (!auth.startsWith("Bearer "))
      return armError(
        res,
        401,
        "AuthenticationFailed",
        "Authentication failed. The 'Authorization' header is missing.",
      );
    if (!identity.isIssued(auth.slice(7)))
      return armError(res, 401, "InvalidAuthenticationToken", "The access token is invalid.");
    if (!url.searchParams.get("api-version"))
      return armError(
        res,
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
      );

    const throttled = takeFault(faults.throttle, method);
    if (throttled) {
      const headers: Record<string, string> =
        throttled.retryAfterSeconds !== undefined ? { "retry-after": String(throttled.retryAfterSeconds) } : {};
      return armError(
        res,
        429,
        "SubscriptionRequestsThrottled",
        `Number of '${method === "GET" ? "read" : "write"}' ` +
          `requests for subscription '${subscriptionId}' exceeded. ` +
          `Please try again after '${throttled.retryAfterSeconds ?? 5}' seconds after the last request.`,
        headers,
      );
    }
    const failing = takeFault(faults.serverError, method);
    if (failing)
      return armError(
        res,
        failing.status,
        failing.status === 503 ? "ServiceUnavailable" : "InternalServerError",
        "The server encountered an internal error. Please retry the request.",
      );

    const p = url.pathname;
    const sub = /^\/subscriptions\/([^/]+)(\/.*)?$/i.exec(p);
    if (!sub || sub[1] !== subscriptionId)
      return armError(res, 404, "SubscriptionNotFound", `The subscription '${sub?.[1] ?? ""}' could not be found.`);
    const rest = sub[2] ?? "";

    const opMatch = /^\/providers\/Microsoft\.ContainerInstance\/locations\/([^/]+)\/operations\/([^/]+)$/i.exec(rest);
    if (opMatch && method === "GET") {
      const op = operations.get(opMatch[2] as string);
      if (!op) return armError(res, 404, "OperationNotFound", "The operation was not found.");
      advance(op);
      const g = groups.get(op.groupId.toLowerCase());
      const done = op.status === "Succeeded" || op.status === "Failed";
      return send(
        res,
        200,
        {
          id: op.groupId,
          status: op.status,
          startTime: op.startTime,
          properties: { events: done && g ? g.events : [] },
          ...(op.error ? { error: op.error } : {}),
        },
        !done && faults.pollRetryAfter ? { "retry-after": String(faults.pollRetryAfter) } : {},
      );
    }

    const rgMatch = new RegExp(
      /^\/resourceGroups\/([^/]+)\/providers\/Microsoft\.ContainerInstance/.source +
        /\/containerGroups(?:\/([^/]+))?(\/containers\/([^/]+)\/logs)?$/.source,
      "i",
    ).exec(rest);
    const subList = /^\/providers\/Microsoft\.ContainerInstance\/containerGroups$/i.test(rest);
    if (!rgMatch && !subList) return armError(res, 404, "NotFound", `No route for ${method} ${p}`);
    const rg = rgMatch?.[1];
    if (rg !== undefined && !resourceGroups.has(rg.toLowerCase()))
      return armError(res, 404, "ResourceGroupNotFound", `Resource group '${rg}' could not be found.`);
    const name = rgMatch?.[2];

    if (!name) {
      if (method !== "GET") return armError(res, 405, "MethodNotAllowed", "The requested method is not allowed.");
      const all = [...groups.values()].filter(
        (g) => rg === undefined || g.resourceGroup.toLowerCase() === rg.toLowerCase(),
      );
      const skip = Number(url.searchParams.get("$skipToken") ?? 0);
      const page = all.slice(skip, skip + pageSize).map((g) => renderGroup(g, true));
      const next =
        skip + pageSize < all.length
          ? `${endpoint}${p}?api-version=${url.searchParams.get("api-version")}&$skipToken=${skip + pageSize}`
          : undefined;
      return send(res, 200, { value: page, ...(next ? { nextLink: next } : {}) });
    }

    const id =
      `/subscriptions/${subscriptionId}/resourceGroups/${rg}` +
      `/providers/Microsoft.ContainerInstance/containerGroups/${name}`;
    const existing = groups.get(id.toLowerCase());
    const notFound = () =>
      armError(
        res,
        404,
        "ResourceNotFound",
        `The Resource 'Microsoft.ContainerInstance/containerGroups/${name}' under resource ` +
          `group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
      );

    if (rgMatch?.[3]) {
      if (method !== "GET") return armError(res, 405, "MethodNotAllowed", "The requested method is not allowed.");
      if (!existing) return notFound();
      if (existing.containerName !== rgMatch[4])
        return armError(
          res,
          404,
          "ContainerNotFound",
          `The container '${rgMatch[4]}' is not found in container group '${name}'.`,
        );
      const text = existing.container?.logs() ?? "";
      const tail = url.searchParams.get("tail");
      const lines = text.split("\n");
      if (lines[lines.length - 1] === "") lines.pop();
      const content = tail ? lines.slice(-Number(tail)).join("\n") + (lines.length ? "\n" : "") : text;
      return send(res, 200, { content });
    }

    if (method === "GET") return existing ? send(res, 200, renderGroup(existing)) : notFound();

    if (method === "PUT") {
      if (faults.putError)
        return armError(res, faults.putError.status, faults.putError.code, faults.putError.message, writeHeaders);
      const put = (body ?? {}) as PutBody;
      const invalid = invalidPut(name, put);
      if (invalid) return armError(res, 400, invalid.code, invalid.message);
      if (existing) {
        // Updates that change resources are refused by ACI (docs/reference/arm-notes.md §6 "Known issues").
        return armError(
          res,
          400,
          "InvalidContainerGroupUpdate",
          `The updates on container group '${name}' are invalid. ` +
            `If you are going to update the os type, restart policy, network profile, CPU, ` +
            `memory or GPU resources for a container group, you must delete it first and then create a new one.`,
        );
      }
      const quota = quotaRefusal(faults, groups.size);
      if (quota) return armError(res, quota.status, quota.code, quota.message, writeHeaders);
      const g = groupFromPut(id, rg as string, name, put, planFor(faults, name));
      groups.set(id.toLowerCase(), g);
      const opId = randomUUID();
      operations.set(opId, {
        id: opId,
        groupId: id,
        kind: "create",
        polls: 0,
        creatingPolls: 0,
        startTime: new Date().toISOString(),
        status: "Pending",
        launched: false,
      });
      const asyncUrl =
        `${endpoint}/subscriptions/${subscriptionId}/providers/Microsoft.ContainerInstance` +
        `/locations/${g.location}/operations/${opId}?api-version=2018-06-01`;
      return send(res, 201, renderGroup(g), { "azure-asyncoperation": asyncUrl, ...writeHeaders });
    }

    if (method === "DELETE") {
      if (!existing) return send(res, 204);
      const rendered = renderGroup(existing);
      await removeGroup(existing);
      if (faults.deleteVariant === 204) return send(res, 204);
      if (faults.deleteVariant === 202) {
        const opId = randomUUID();
        operations.set(opId, {
          id: opId,
          groupId: id,
          kind: "delete",
          polls: 0,
          creatingPolls: 0,
          startTime: new Date().toISOString(),
          status: "Pending",
          launched: true,
        });
        return send(res, 202, undefined, {
          "azure-asyncoperation":
            `${endpoint}/subscriptions/${subscriptionId}/providers/Microsoft.ContainerInstance` +
            `/locations/${existing.location}/operations/${opId}?api-version=2018-06-01`,
        });
      }
      return send(res, 200, rendered, { "x-ms-ratelimit-remaining-subscription-deletes": "14999" });
    }
    return armError(res, 405, "MethodNotAllowed", "The requested method is not allowed.");
  }

  async function served(name: string): Promise<ServedRequest[]> {
    const container = [...groups.values()].find((x) => x.name === name)?.container;
    return container ? servedBy(container, AbortSignal.any([closing.signal, AbortSignal.timeout(10_000)])) : [];
  }

  server.listen(0, "127.0.0.1");
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const resourceGroup = [...resourceGroups][0] as string;

  return {
    endpoint,
    subscriptionId,
    resourceGroup,
    identityEndpoint: identity.url,
    identityHeader: identity.header,
    caPath: caPath ?? "",
    faults,
    requests,
    env: () => ({
      AZURE_ARM_ENDPOINT: endpoint,
      AZURE_SUBSCRIPTION_ID: subscriptionId,
      AZURE_RESOURCE_GROUP: resourceGroup,
      IDENTITY_ENDPOINT: identity.url,
      IDENTITY_HEADER: identity.header,
      ...(caPath ? { NODE_EXTRA_CA_CERTS: caPath } : {}),
    }),
    groups: () => [...groups.values()],
    group: (name) => [...groups.values()].find((g) => g.name === name),
    deleteOutOfBand: async (name) => {
      const g = [...groups.values()].find((x) => x.name === name);
      if (g) await removeGroup(g);
    },
    count: (method, pathPattern) =>
      requests.filter((r) => r.method === method && (!pathPattern || pathPattern.test(r.path))).length,
    restartOutOfBand: async (name) => {
      const g = [...groups.values()].find((x) => x.name === name);
      if (!g?.container) throw new Error(`group ${name} has no running container to restart`);
      await g.container.stop();
      g.container = await launcher(
        { image: g.image, command: g.command, env: g.env, port: g.ports[0]?.port ?? 80 },
        closing.signal,
      );
      g.ip = g.container.ip;
      return g.ip;
    },
    handshakeErrors: () =>
      started.flatMap((c) =>
        c
          .logs()
          .split("\n")
          .filter((line) => /TLS handshake error/.test(line)),
      ),
    served,
    servedCount: async (name) => (await served(name)).length,
    issueTrustedCert: (ip) => issueServerCert(ca, [ip]),
    close: async () => {
      closing.abort();
      await Promise.allSettled([...operations.values()].map((op) => op.launch));
      await Promise.allSettled([...groups.values()].map((g) => g.container?.stop()));
      groups.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await identity.close();
    },
  };
}
