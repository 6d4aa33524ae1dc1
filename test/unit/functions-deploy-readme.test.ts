/**
 * The Functions deployment steps (docs/serve-and-functions.md) against what Azure Functions runs: a Node major it still
 * supports (Node 20's support ended 2026-04-30; 22 is GA until 2027-04-30, per the "supported
 * languages" page), and no storage account key left in the app settings when the text says so.
 * On Flex Consumption, `az functionapp create` writes the deployment storage's connection string
 * into DEPLOYMENT_STORAGE_CONNECTION_STRING unless `--deployment-storage-auth-type` names an identity
 * (Azure/azure-cli appservice custom.py, create_functionapp).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const page = readFileSync(new URL("../../docs/serve-and-functions.md", import.meta.url), "utf8");
const SUPPORTED_NODE_MAJORS = [22, 24];

function deploySteps(): string {
  const start = page.indexOf("## Deploying it, step by step\n");
  expect(start, 'docs/serve-and-functions.md has a "## Deploying it, step by step" section').toBeGreaterThanOrEqual(0);
  const end = page.indexOf("\n## ", start + 1);
  return page.slice(start, end === -1 ? undefined : end);
}

/** The shell commands of the section, with `\` continuations joined into one line each. */
function commands(text: string): string[] {
  const blocks = [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
  return blocks.flatMap((block) =>
    block
      .replace(/\\\n\s*/g, " ")
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean),
  );
}

describe("docs: deploying the Functions app", () => {
  const steps = deploySteps();
  const creates = commands(steps).filter((line) => line.startsWith("az functionapp create "));

  it("creates the app on a Node major Azure Functions still supports", () => {
    expect(creates).toHaveLength(1);
    const version = /--runtime node --runtime-version (\d+)/.exec(creates[0] ?? "")?.[1];
    expect(SUPPORTED_NODE_MAJORS).toContain(Number(version));
    expect(steps).toMatch(new RegExp(`Flex Consumption plan and Node ${version}\\b`));
  });

  it("leaves no storage account key in the app settings when it says so", () => {
    if (!/no account key is left/.test(steps)) return;
    const lines = commands(steps);
    const deletes = (name: string) =>
      lines.some(
        (line) =>
          line.startsWith("az functionapp config appsettings delete ") && line.includes(`--setting-names ${name}`),
      );
    expect(deletes("AzureWebJobsStorage"), "the host's connection string is deleted").toBe(true);
    // The deployment storage key is never written (identity at create), or deleted after switching.
    const identityAtCreate = /--deployment-storage-auth-type (SystemAssignedIdentity|UserAssignedIdentity)\b/.test(
      creates[0] ?? "",
    );
    expect(
      identityAtCreate || deletes("DEPLOYMENT_STORAGE_CONNECTION_STRING"),
      "DEPLOYMENT_STORAGE_CONNECTION_STRING",
    ).toBe(true);
    // Every switch of the deployment storage to the identity also deletes the key it leaves behind.
    const switches = lines.filter((line) => line.startsWith("az functionapp deployment config set "));
    for (const line of switches) expect(line).toMatch(/--deployment-storage-auth-type SystemAssignedIdentity\b/);
    if (switches.length > 0) expect(deletes("DEPLOYMENT_STORAGE_CONNECTION_STRING")).toBe(true);
  });
});
