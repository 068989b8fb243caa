/**
 * The llama scraper: pulls loss and latency summaries from llama and original LLAMA collectors
 * and writes them through output plugins (InfluxDB 1.x and 2.x, stdout, CSV, or your own), with
 * tags from tag-resolver plugins. Points wait in memory, then on disk, while an output is down.
 * Run it with `deno run -A jsr:@llama/scraper --config scraper.yaml`, or embed it:
 *
 * @example
 * ```ts ignore
 * import { loadScraperPlugins, parseScraperConfig, startScraper } from "@llama/scraper";
 * const text = await Deno.readTextFile("scraper.yaml");
 * const config = parseScraperConfig(text, { file: "scraper.yaml" });
 * await using scraper = await startScraper(config, await loadScraperPlugins(config, text));
 * ```
 *
 * @module
 */
export {
  type CollectorTarget,
  collectorTarget,
  type LoadedPlugin,
  loadScraperPlugins,
  parseScraperConfig,
  type PluginUse,
  type ScraperConfig,
  type ScraperPlugins,
  type ScraperSecurityConfig,
} from "./config.ts";
export type { CollectorStatus } from "./collector_status.ts";
export type { CollectorTrace, FleetSuspect, FleetSuspectsResponse } from "./fleet_traces.ts";
export { type ScraperSharding, shardCollectors } from "./sharding.ts";
export { type Scraper, type ScraperDependencies, startScraper } from "./scraper.ts";
export {
  HISTORY_QUERY_SELECTOR,
  readTsdbHistory,
  TsdbHistory,
  type TsdbHistoryHolderOptions,
  type TsdbHistoryOptions,
} from "./tsdb_history.ts";
export { type RefusalReason, ScrapeRefusedError } from "./errors.ts";
export {
  type CollectorClient,
  collectorClient,
  type CollectorClientOptions,
} from "./collector_client.ts";
export {
  type OutputHost,
  type OutputHostCounters,
  type OutputHostSettings,
} from "./output_host.ts";

import { main } from "./main.ts";
// `deno run jsr:@llama/scraper` runs this module: start the program.
if (import.meta.main) Deno.exit(await main(Deno.args));
