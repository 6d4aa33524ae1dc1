// The simulator's stand-in for Nextcloud's aio-imaginary /start.sh (docs/reference/imaginary-api.md §2.4), which
// runs `imaginary -return-size -max-allowed-resolution 222.2 [-key $IMAGINARY_SECRET] "$@"`.
// Here "imaginary" is the built-in backend (`aciimg backend`), run in this process; the group's
// real `command` (a shell step) runs in /bin/sh before it and execs this script with its flags.
// Go-style flags, the last value of a repeated flag wins (Go's flag package). The simulator says
// where to listen (ACIIMG_SIM_IP: each group has its own loopback address, as ACI gives each
// group its own IP) and which image it plays (ACIIMG_SIM_IMAGE): an image whose name contains
// "plain-http" ignores -certfile/-keyfile, like an imaginary image that cannot serve TLS.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const args = ["-return-size", "-max-allowed-resolution", "222.2", ...process.argv.slice(2)];
const flag = (name) => {
  let value;
  args.forEach((arg, i) => {
    if (arg === `-${name}` || arg === `--${name}`) value = args[i + 1];
    else if (arg.startsWith(`-${name}=`) || arg.startsWith(`--${name}=`)) value = arg.slice(arg.indexOf("=") + 1);
  });
  return value;
};

const env = process.env;
const backend = ["backend", "--host", env.ACIIMG_SIM_IP ?? "127.0.0.1", "--port", env.PORT ?? "9000"];
const resolution = flag("max-allowed-resolution");
if (resolution) backend.push("--max-resolution", resolution);
const certfile = flag("certfile");
const keyfile = flag("keyfile");
// imaginary serves TLS "when both are set" (docs/reference/imaginary-api.md §2.2).
if (certfile && keyfile && !(env.ACIIMG_SIM_IMAGE ?? "").includes("plain-http"))
  backend.push("--tls-cert", certfile, "--tls-key", keyfile);
if (env.IMAGINARY_SECRET) env.ACIIMG_BACKEND_KEY = env.IMAGINARY_SECRET;
delete env.IMAGINARY_SECRET;

const cli = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "aciimg.js");
process.argv = [process.argv[0], cli, ...backend];
await import(cli);
