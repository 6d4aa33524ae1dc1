/**
 * The commander program: global flags and one registration per command. Each command's module is
 * imported only when it runs (changesets' cli.ts), so `aciimg status` on the local provider never
 * loads the Azure SDK, and `--help` loads no engine at all.
 */
import { createRequire } from "node:module";
import { Command, Option } from "commander";
import { oneLine } from "./failure.js";
import { parseInteger } from "./flags.js";
import { addProcessCommand } from "./commands/process.js";

/** The version in package.json (two levels up from src/cli and from dist/cli). */
function packageVersion(): string {
  const manifest: unknown = createRequire(import.meta.url)("../../package.json");
  const version = (manifest as { version?: unknown }).version;
  return typeof version === "string" ? version : "unknown";
}

/**
 * Builds the program; `setExitCode` receives each command's exit status.
 * (Long as a list: one registration of a few lines per command.)
 */
export function createProgram(setExitCode: (code: number) => void): Command {
  const program = new Command("aciimg")
    .description(
      "On-demand image processing: imaginary in Azure Container Instances, or a local sharp backend.\n" +
        "A backend is provisioned on first use and reaped when idle.",
    )
    .version(packageVersion(), "-V, --version")
    .option(
      "--provider <local|aci>",
      "where the backend runs (default: aci when a subscription and resource group are set, else local)",
    )
    .option("--config <file>", "config file (default: ./aciimg.config.json)")
    .option("--state <file>", "state file (default: $XDG_STATE_HOME/aciimg/state.json)")
    .option("--name <name>", "logical backend name (default: default)")
    .option("--json", "machine-readable output: one JSON object per line")
    .option("--verbose", "more detail; stack traces on errors")
    .option("--subscription <id>", "Azure subscription id")
    .option("--resource-group <name>", "Azure resource group")
    .option("--location <region>", "Azure region (default: westeurope)")
    .option("--image <ref>", "container image for ACI")
    .option("--cpu <n>", "vCPUs (aci) / CPUs the local backend uses")
    .option("--memory <GB>", "memory in GB (aci)")
    .option("--registry-server <host>", "private registry server (password: ACIIMG_REGISTRY_PASSWORD)")
    .option("--registry-username <user>", "private registry user")
    .option("--timeout <duration>", "how long provisioning may take (default: 10m)")
    .option("--request-timeout <duration>", "how long the backend may take on one image; not sent again (default: 2m)")
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`aciimg: ${oneLine(text)}\n`) });

  program.addHelpText(
    "after",
    `
Examples:
  $ aciimg process photo.jpg --resize 300x200 -o out/
  $ aciimg up && aciimg status
  $ aciimg reap --idle 5m
  $ aciimg down
Run aciimg <command> --help for a command's flags and examples.`,
  );

  /** A command's action: its module is loaded only when it runs (changesets), and its exit status handed on. */
  const lazyAction =
    <O>(load: () => Promise<(options: O, command: Command) => Promise<number>>) =>
    async (options: O, command: Command): Promise<void> =>
      setExitCode(await (await load())(options, command));

  addProcessCommand(program, async (...args) => (await import("./batch/run.js")).runProcess(...args), setExitCode);

  program
    .command("up")
    .description("ensure a backend runs; print provider, endpoint and time to ready")
    .option("--dry-run", "print what would be created (the ARM request for aci, the command for local) and stop")
    .option(
      "--backends <N>",
      "aci: start (pre-warm) a pool of N container groups, each billed (default 1; env ACIIMG_BACKENDS)",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  $ aciimg up\n  $ aciimg up --json\n" +
        "  $ aciimg up --provider aci --backends 3\n  $ aciimg up --provider aci --dry-run",
    )
    .action(lazyAction(async () => (await import("./commands/up.js")).runUp));

  program
    .command("status")
    .description("provider, live state, endpoint, idle time and time until reap")
    .option("--show-key", "also print the backend's API key")
    .addHelpText("after", "\nExamples:\n  $ aciimg status\n  $ aciimg status --json | jq .reapInMs")
    .action(lazyAction(async () => (await import("./commands/status.js")).runStatus));

  program
    .command("reap")
    .description("delete the backend if idle longer than --idle (cron-friendly: silent when nothing to do)")
    .option("--idle <duration>", "idle limit such as 90s, 5m, 1h (default: config idle, 5m)")
    .option("--dry-run", "say what would be deleted, delete nothing")
    .addHelpText(
      "after",
      "\nExamples:\n  $ aciimg reap\n  $ aciimg reap --idle 10m --dry-run --verbose\n" +
        "  # crontab: every minute\n  * * * * * aciimg reap --idle 5m >> ~/.local/state/aciimg/reap.log 2>&1",
    )
    .action(lazyAction(async () => (await import("./commands/reap.js")).runReap));

  program
    .command("down")
    .description("delete the backend now")
    .option(
      "--force",
      "also delete a backend of this --name that another aciimg state made, or one made before owner ids",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  $ aciimg down\n  $ aciimg down --name thumbs --json\n  $ aciimg down --name default --force",
    )
    .action(lazyAction(async () => (await import("./commands/down.js")).runDown));

  program
    .command("logs")
    .description("the backend's recent log lines")
    .option("--tail <N>", "how many lines", (v: string) => parseInteger("--tail", v, 1, 100000, "100"), 100)
    .addHelpText("after", "\nExamples:\n  $ aciimg logs\n  $ aciimg logs --tail 20")
    .action(lazyAction(async () => (await import("./commands/logs.js")).runLogs));

  program
    .command("serve")
    .description("serve imaginary's HTTP API here, proxying to an on-demand backend")
    .option("--port <port>", "port to listen on (default: 8080, env ACIIMG_SERVE_PORT)")
    .option("--host <address>", "address to listen on (default: 127.0.0.1)")
    .option(
      "--key <key>",
      "API key clients must send, at least 16 characters (prefer env ACIIMG_SERVE_KEY: a flag shows in ps)",
    )
    .option("--tls-cert <file>", "serve HTTPS with this PEM certificate (with --tls-key; env ACIIMG_SERVE_TLS_CERT)")
    .option("--tls-key <file>", "the certificate's PEM private key (with --tls-cert; env ACIIMG_SERVE_TLS_KEY)")
    .option("--allow-svg-filters", "aci: pass on SVGs with filters anyway (env ACIIMG_ALLOW_SVG_FILTERS)")
    // Pasted as they are, these work: serve refuses to start without a key (or with a short one),
    // clients send it as API-Key, and curl retries while serve is still starting in the background.
    .addHelpText(
      "after",
      `
Examples:
  $ export ACIIMG_SERVE_KEY=$(openssl rand -hex 32)
  $ aciimg serve --port 8080 &
  $ curl -s --retry 5 --retry-connrefused -X POST -H "API-Key: $ACIIMG_SERVE_KEY" --data-binary @photo.jpg \
'http://127.0.0.1:8080/resize?width=300' > small.jpg
  $ aciimg serve --host 0.0.0.0 --tls-cert cert.pem --tls-key key.pem`,
    )
    .action(lazyAction(async () => (await import("./commands/serve.js")).runServe));

  program
    .command("backend", { hidden: true })
    .description("internal: run the built-in imaginary-compatible backend (the local provider starts it)")
    .addOption(new Option("--host <address>", "address to listen on").default("127.0.0.1"))
    .addOption(new Option("--port <port>", "port, 0 for a free one").default("0"))
    .addOption(
      new Option(
        "--socket <path>",
        "listen on this Unix domain socket (created 0600) instead of --host/--port",
      ).conflicts(["host", "port", "tlsCert", "tlsKey"]),
    )
    .option("--max-size <size>", "largest request body (or --mount file), e.g. 20MB")
    .option("--max-resolution <MP>", "largest input resolution in megapixels")
    .option("--max-render-time <duration>", "longest work on one image, then 422 (default 60s)")
    .option("--concurrency <N>", "images processed at once, one libvips thread each (default: 2 per CPU, see --cpu)")
    .option("--key <key>", "API key (default: env ACIIMG_BACKEND_KEY)")
    .option("--tls-cert <file>", "serve HTTPS with this PEM certificate (with --tls-key)")
    .option("--tls-key <file>", "the certificate's PEM private key (with --tls-cert)")
    .option("--mount <dir>", "serve GET /<op>?file=<path under dir> from this directory, as imaginary's -mount (not /)")
    .option("--idle-exit <duration>", "with --socket: idle this long (and in --state), remove its record and stop")
    .addHelpText(
      "after",
      "\nExamples:\n  $ ACIIMG_BACKEND_KEY=s3cret aciimg backend --port 9000\n" +
        '  $ ACIIMG_BACKEND_KEY=s3cret aciimg backend --socket "$XDG_RUNTIME_DIR/aciimg.sock"\n' +
        "  $ ACIIMG_BACKEND_KEY=s3cret aciimg backend --port 9000 --mount ./photos",
    )
    .action(lazyAction(async () => (await import("./commands/backend.js")).runBackend));

  return program;
}
