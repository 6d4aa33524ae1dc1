/**
 * An App Service-style managed-identity endpoint (IDENTITY_ENDPOINT + IDENTITY_HEADER), the
 * source msal-node picks when both are set (docs/reference/arm-notes.md §4.3). Real App Service serves it over
 * plain HTTP on localhost, so this does too. Tokens it issues are the only ones the ARM
 * simulator accepts.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface IdentityEndpoint {
  url: string;
  header: string;
  /** Tokens issued so far. */
  isIssued(token: string): boolean;
  issuedCount(): number;
  close(): Promise<void>;
}

export async function startIdentityEndpoint(): Promise<IdentityEndpoint> {
  const header = randomBytes(16).toString("hex");
  const issued = new Set<string>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method !== "GET" || url.pathname !== "/msi/token") return send(404, { error: "not_found" });
    if (req.headers["x-identity-header"] !== header) {
      return send(401, { statusCode: 401, message: "Unauthorized: X-IDENTITY-HEADER is missing or wrong" });
    }
    const resource = url.searchParams.get("resource");
    if (!resource) return send(400, { statusCode: 400, message: "resource is required" });
    const token = `sim-${randomBytes(24).toString("hex")}`;
    issued.add(token);
    send(200, {
      access_token: token,
      expires_on: String(Math.floor(Date.now() / 1000) + 3600),
      resource,
      token_type: "Bearer",
      client_id: "00000000-0000-0000-0000-00000000aaaa",
    });
  });
  server.listen(0, "127.0.0.1");
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/msi/token`,
    header,
    isIssued: (token) => issued.has(token),
    issuedCount: () => issued.size,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
