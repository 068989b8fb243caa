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
export * from "./errors.ts";
export * from "./probe.ts";
export * from "./clock.ts";
export * from "./socket.ts";
export * from "./deno_socket.ts";
export * from "./token_bucket.ts";
export * from "./flags.ts";
export * from "./prometheus.ts";
export * from "./logging.ts";
export * from "./address.ts";
export * from "./metrics_server.ts";
export * from "./program.ts";
export * from "./config_node.ts";
export * from "./native_socket.ts";
export * from "./engine.ts";
export * from "./heap.ts";
export type * from "./summary.ts";
export { parseIntervalSummary, type ParseIntervalSummaryOptions } from "./summary_json.ts";
