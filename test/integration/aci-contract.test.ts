/** The Provider contract suite, run against `aci` on the ARM simulator with the real Azure SDK. */
import { describeProvider } from "../helpers/provider-contract.js";
import { startHarness } from "../arm-sim/harness.js";

describeProvider("aci (ARM simulator)", async () => {
  const h = await startHarness();
  return { provider: h.provider(), spec: h.spec(), cleanup: () => h.close() };
});
