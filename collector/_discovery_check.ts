/**
 * What `--check` prints of discovered target lists: each list's source, the targets it found
 * and, for a source that failed, why.
 *
 * @module
 */
import { formatAddress } from "@llama/core";
import type { DiscoveredListStatus } from "./_discovered_list.ts";
import type { ResolvedConfig } from "./resolve.ts";

/**
 * Prints each discovered list of `config` through `print.out` (a header, then one target a line:
 * `ip:port {tags}`) and each failure through `print.error`. Returns true when a source failed.
 */
export function printDiscoveryCheck(
  config: ResolvedConfig,
  lists: readonly DiscoveredListStatus[],
  print: { out: (line: string) => void; error: (line: string) => void },
): boolean {
  let failed = false;
  for (const list of lists) {
    if (!list.ok) {
      failed = true;
      print.error(`targets.${list.list}: ${list.kind} ${list.source} failed: ${list.error}`);
      continue;
    }
    print.out(`targets.${list.list}: ${list.kind} ${list.source}: ${list.targets} targets`);
    for (const target of config.targets[list.list] ?? []) {
      const address = formatAddress({ hostname: target.ip, port: target.port });
      const host = target.host === target.ip ? "" : ` (${target.host})`;
      print.out(`  ${address}${host} ${JSON.stringify(target.tags)}`);
    }
  }
  return failed;
}
