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
export {
  type CollectorApiConfig,
  type CollectorConfig,
  type ConfigLocation,
  defaultCollectorConfig,
  type FleetConfig,
  type MemberSource,
  type MeshConfig,
  type MeshLevel,
  parseCollectorConfig,
  type ParseConfigOptions,
  type PortConfig,
  type PortGroupMember,
  type ShardingConfig,
  type TargetConfig,
  type TestConfig,
} from "./config.ts";
export type { StampMode, StampOptions, StampSettings } from "./_stamp_config.ts";
export {
  type Lookup,
  type ResolvedConfig,
  type ResolvedTarget,
  resolveTargets,
  systemLookup,
} from "./resolve.ts";
export {
  type FleetPlan,
  type FleetReport,
  formatFleetReport,
  type MeshLevelReport,
  planFleet,
  type PlannableConfig,
  targetIdentity,
  targetKey,
  type TargetListReport,
} from "./mesh.ts";
export { checkAddressFamilies, loadCollectorConfig, type LoadConfigOptions } from "./load.ts";
export {
  type Collector,
  type CollectorDependencies,
  type CollectorOptions,
  startCollector,
} from "./collector.ts";
export {
  type CollectorApiOptions,
  type CollectorView,
  createCollectorApi,
  type HttpApi,
  type StreamableInterval,
} from "./api.ts";
export {
  type DiscoveredListStatus,
  type DiscoveryDependencies,
  type DiscoveryKind,
  type DiscoverySource,
  type DiscoveryView,
  TargetDiscovery,
} from "./discovery.ts";
export { formatInfluxdata } from "./influxdata.ts";
export { type CollectorHealth, collectorMetrics } from "./metrics.ts";
export { percentile, rttStatistics } from "./statistics.ts";
export { routeSourceAddresses, type SourceAddressLookup } from "./source_address.ts";
export type { PathsJsonOptions } from "./published_interval.ts";
export type { ProberHealth } from "./prober.ts";
export type {
  BindOptions,
  Clock,
  DatagramBatch,
  DatagramSocket,
  EngineChoice,
  OpenSocket,
  PeerAddressCache,
  SocketAddress,
} from "@llama/core";
export type {
  FlowSummary,
  IntervalHeader,
  IntervalSummary,
  IntervalTrend,
  PathSummary,
  PathTrend,
  ProbeStatistics,
  RttStatistics,
  TimestampSource,
  TosSummary,
} from "@llama/core";

import { main } from "./main.ts";
// `deno run jsr:@llama/collector` runs this module: start the program.
if (import.meta.main) Deno.exit(await main(Deno.args));
export type { TracingConfig } from "./_tracing_config.ts";
export type { ProbeAuthConfig } from "./_probe_auth_config.ts";
export type { TracingView } from "./_trace_api.ts";
export type { PathChange, TraceRequest } from "./tracer.ts";
export { planResolvedFleet } from "./fleet_plan.ts";
