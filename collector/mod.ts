/**
 * The llama collector: sends `llama.Probe`s to reflectors from several source ports, so probes
 * spread over ECMP paths, and summarizes loss, latency and jitter per path and per flow. Reads the
 * original LLAMA's configs and serves its `/influxdata` API. Run it with
 * `deno run -A --unstable-net jsr:@llama/collector --config collector.yaml`, or embed it:
 *
 * @example
 * ```ts ignore
 * import { loadCollectorConfig, startCollector } from "@llama/collector";
 * const config = await loadCollectorConfig("collector.yaml");
 * await using collector = await startCollector(config);
 * ```
 *
 * @module
 */
export * from "./config.ts";
export * from "./resolve.ts";
export * from "./load.ts";
export * from "./collector.ts";
export * from "./api.ts";
export * from "./influxdata.ts";
export * from "./metrics.ts";
export * from "./statistics.ts";
export * from "./summarizer.ts";
export * from "./published_interval.ts";
export * from "./in_flight.ts";
export * from "./prober.ts";
export * from "./source_address.ts";

import { main } from "./main.ts";
// `deno run jsr:@llama/collector` runs this module: start the program.
if (import.meta.main) Deno.exit(await main(Deno.args));
