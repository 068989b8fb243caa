/**
 * The shared core of llama: the `llama.Probe` wire format (compatible with Dropbox's LLAMA), the
 * UDP socket interface and its `Deno.listenDatagram` implementation, clocks, errors, flags,
 * Prometheus text and logging setup.
 *
 * @example Lay out a probe, as a collector does, and read it back, as a reflector does
 * ```ts
 * import { ProbeReader, ProbeWriter } from "@llama/core";
 * const writer = new ProbeWriter({ tos: 0xb8 });
 * writer.signature.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
 * writer.setSequence(1);
 * const reader = new ProbeReader();
 * console.assert(reader.read(writer.bytes) && reader.tos === 0xb8);
 * ```
 *
 * @module
 */
export {
  ConfigError,
  type LlamaErrorOptions,
  PluginError,
  PluginLoadError,
  ProtocolError,
  SocketError,
  type SocketErrorOptions,
  UsageError,
} from "./errors.ts";
export {
  decodeProbe,
  PADDING_ANSWER_MARK,
  type Probe,
  ProbeReader,
  type ProbeRejection,
  type Reflection,
  ReflectionFlag,
  SIGNATURE_BYTES,
} from "./probe.ts";
export {
  encodeProbe,
  fillReflection,
  type ProbeFields,
  type ProbeLayout,
  ProbeWriter,
  reflectionDwellNs,
  reflectionFlags,
  reflectionTos,
} from "./probe_writer.ts";
export {
  PROBE_AUTH_HMAC_SHA256_128,
  PROBE_MAC_BYTES,
  ProbeAuthCheck,
  ProbeAuthenticator,
} from "./probe_auth.ts";
export { type Clock, systemClock, WallNanos } from "./clock.ts";
export {
  type BindOptions,
  DatagramBatch,
  type DatagramSocket,
  type OpenSocket,
  PeerAddressCache,
  type SocketAddress,
  type TimestampSource,
} from "./socket.ts";
export { hasDenoDatagramApi, openDenoSocket } from "./deno_socket.ts";
export { TokenBucket } from "./token_bucket.ts";
export {
  type FlagSpec,
  type FlagValues,
  formatUsage,
  type ParsedFlags,
  parseFlags,
} from "./flags.ts";
export {
  formatPrometheus,
  type MetricFamily,
  type MetricSample,
  PROMETHEUS_CONTENT_TYPE,
  sanitizeLabelName,
} from "./prometheus.ts";
export { type LogFormat, type LoggingOptions, type LogLevel, setupLogging } from "./logging.ts";
export {
  canonicalAddress,
  compareAddresses,
  formatAddress,
  formatIpv6,
  parseHostPort,
  parseIpv4,
  parseIpv6,
  whyNotUnicast,
} from "./address.ts";
export { type MetricsServer, serveMetrics } from "./metrics_server.ts";
export {
  type FetchHandler,
  HTTP_LIMITS,
  type HttpDeadline,
  type HttpLimits,
  type HttpSecurity,
  type HttpServer,
  httpServerMetrics,
  type HttpServerOptions,
  type HttpServerStats,
  serveHttp,
} from "./http_server.ts";
export {
  type ApiTokens,
  loadTokenFile,
  MIN_TOKEN_LENGTH,
  parseTokenFile,
  type TokenCheck,
} from "./api_tokens.ts";
export { loadCaFile, loadTlsIdentity, type TlsIdentity } from "./tls_files.ts";
export { type ApiSecurity, type ApiSecurityFiles, loadApiSecurity } from "./api_security.ts";
export {
  checkWholeNumber,
  LOGGING_FLAGS,
  type LoggingFlags,
  type ProgramFlags,
  readProgramFlags,
  waitForSignal,
} from "./program.ts";
export { writePidFile } from "./pid_file.ts";
export { ConfigNode, parseYamlConfig } from "./config_node.ts";
export {
  adoptNativeSocket,
  type NativeDatagramSocket,
  type NativeEngineStatus,
  nativeEngineStatus,
  type NativeSocketInfo,
  type NativeSocketOptions,
  openNativeSocket,
  PeerAddress,
  type TransmitTimeSink,
} from "./native_socket.ts";
export { IcmpErrorReport, type IcmpErrorSink } from "./_icmp_errors.ts";
export { type Engine, ENGINE_CHOICES, type EngineChoice, selectEngine } from "./engine.ts";
export { capMallocMmapThreshold, fullGarbageCollector } from "./heap.ts";
export type {
  DelayStatistics,
  FlowSummary,
  IntervalHeader,
  IntervalSummary,
  IntervalSummaryWithoutFlows,
  IntervalTrend,
  OneWayDelay,
  PathSummary,
  PathSummaryWithoutFlows,
  PathTrend,
  ProbeStatistics,
  RttStatistics,
  TosSummary,
} from "./summary.ts";
export { parseIntervalSummary, type ParseIntervalSummaryOptions } from "./summary_json.ts";
export type {
  FlowTrace,
  HopAddress,
  HopKind,
  SuspectLink,
  SuspectsResponse,
  TracedFlow,
  TraceHop,
  TraceReason,
  TracesResponse,
} from "./trace.ts";
export {
  firstDifference,
  linkKey,
  lossOnset,
  type LossOnsetOptions,
  samePath,
  type TraceLink,
  traceLinks,
} from "./trace_path.ts";
export { rankSuspects, type RankSuspectsOptions } from "./suspects.ts";
export { parseTracesResponse } from "./trace_json.ts";
export {
  type Keyring,
  loadKeyFile,
  MIN_SECRET_BYTES,
  parseKeyFile,
  type SharedKey,
} from "./key_file.ts";
export {
  decodeErrorEstimate,
  encodeErrorEstimate,
  type ErrorEstimate,
  errorEstimateSeconds,
  isPtpErrorEstimate,
  readStampTimestamp,
  STAMP_AUTHENTICATED_BYTES,
  STAMP_DROP_REASONS,
  STAMP_HMAC_BYTES,
  STAMP_PORT,
  STAMP_UNAUTHENTICATED_BYTES,
  type StampDropReason,
  type StampHmacTlvState,
  type StampMode,
  type StampRawTlv,
  type StampReceiveMeta,
  StampReflector,
  type StampReflectorOptions,
  StampReplyReader,
  type StampReplyRejection,
  StampTestPacketWriter,
  type StampTlvOptions,
  type StampWriterOptions,
  writeStampTimestamp,
} from "./stamp.ts";
export {
  type RendezvousCandidate,
  rendezvousHash,
  RendezvousMembers,
  rendezvousTop,
  rendezvousWeight,
} from "./rendezvous.ts";
