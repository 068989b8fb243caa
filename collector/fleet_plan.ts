/**
 * The fleet plan of a loaded config whose discovered target lists have been read.
 *
 * @module
 */
import { planFleet } from "./mesh.ts";
import type { ResolvedConfig } from "./resolve.ts";

/**
 * The fleet plan of a config whose discovered target lists have been read (`TargetDiscovery`):
 * its targets cut to this collector's share, with the plan's report. A config without discovered
 * lists was planned when it was loaded and is returned as it is.
 *
 * @example
 * ```ts ignore
 * import { planResolvedFleet } from "@llama/collector";
 * discovery.follow((config) => collector.reload(planResolvedFleet(config)));
 * ```
 */
export function planResolvedFleet(config: ResolvedConfig): ResolvedConfig {
  if (config.fleet === undefined || config.discovery === undefined) return config;
  const plan = planFleet(config);
  return {
    ...config,
    targets: plan.targets,
    ...(plan.report === undefined ? {} : { fleetReport: plan.report }),
  };
}
