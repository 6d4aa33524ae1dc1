/** `aciimg down`: delete the backend now; `--force` also deletes a same-named backend this state does not own. */
import type { Command } from "commander";
import { configOf, printJson, withEngine, type GlobalOptions } from "../context.js";
import { describeOther } from "../foreign.js";

export async function runDown(options: { force?: boolean }, command: Command): Promise<number> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const config = configOf(globals);
  return withEngine(config, async (engine) => {
    const { removed, others } = await engine.down({ force: options.force === true });
    if (globals.json) {
      printJson({ removed, others });
      return 0;
    }
    for (const r of removed) process.stdout.write(`deleted ${r.provider} backend "${r.name}" (${r.id})\n`);
    for (const o of others) {
      // A pool member's name is `<name>--<i>`: --name takes the pool's.
      process.stderr.write(
        `left ${describeOther(o)}; \`aciimg down --name ${o.name.split("--")[0]} --force\` deletes it\n`,
      );
    }
    if (removed.length === 0 && others.length === 0)
      process.stderr.write(`no ${config.provider} backend "${config.name}" to delete\n`);
    return 0;
  });
}
