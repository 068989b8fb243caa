/**
 * Whether a running collector traces, and what its API and metrics read of the tracer.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type FlowTrace, rankSuspects, type SuspectsResponse, type TracedFlow } from "@llama/core";
import type { TracingConfig } from "./_tracing_config.ts";
import type { TracingView } from "./_trace_api.ts";
import type { Prober } from "./prober.ts";
import type { ReverseHops } from "./reverse_hops.ts";
import type { Tracer, TraceRequest } from "./tracer.ts";

/** The Deno engine's reason, in `/api/v1/traces`, `/status` and the log. */
export const DENO_ENGINE_CANNOT_TRACE = "the Deno engine cannot set a probe's TTL nor read " +
  "ICMP errors: run the native engine (--engine native, with --allow-ffi) to trace";

/** The tracer of a running collector (if tracing is not off) and its reverse hop counts. */
export class TracingState implements TracingView {
  /** The tracer, unless `tracing.mode` is off. */
  readonly tracer: Tracer | undefined;
  /** Every flow's reverse hop count. */
  readonly hops: ReverseHops;
  readonly #prober: Prober;
  readonly #settings: TracingConfig;
  readonly #log = getLogger(["llama", "collector", "tracing"]);

  /** The tracing of a collector whose `prober` has applied its first config. */
  constructor(
    settings: TracingConfig,
    parts: { prober: Prober; tracer: Tracer | undefined; hops: ReverseHops },
  ) {
    this.#settings = settings;
    this.tracer = parts.tracer;
    this.hops = parts.hops;
    this.#prober = parts.prober;
  }

  /** Starts the tracer where it can run, and says in the log whether it does and why not. */
  start(): void {
    const status = this.status();
    if (status.available) {
      this.tracer!.start();
      this.#log.info("Tracing flows hop by hop, at most {budget} probes/s", {
        budget: this.#settings.budget,
      });
    } else if (this.#settings.mode === "on") {
      this.#log.warn("tracing.mode is on, but this collector cannot trace: {reason}", status);
    } else if (this.#settings.mode === "auto") {
      this.#log.info("Not tracing flows: {reason}", status);
    }
  }

  /** Whether the collector traces, and if not, why not. */
  status(): { available: boolean; reason?: string } {
    if (this.tracer === undefined) {
      return { available: false, reason: "tracing is off (tracing.mode: off)" };
    }
    if (!this.#prober.traceable) return { available: false, reason: DENO_ENGINE_CANNOT_TRACE };
    return { available: true };
  }

  /** The latest trace of every traced flow. */
  traces(): FlowTrace[] {
    return this.tracer?.traces() ?? [];
  }

  /** The suspect links of the latest traces, with each flow's latest interval's loss. */
  suspects(): SuspectsResponse {
    const flows: TracedFlow[] = [];
    for (const trace of this.traces()) {
      if (trace.flowLossPercent !== null) flows.push({ trace, lossPercent: trace.flowLossPercent });
    }
    return rankSuspects(flows);
  }

  /** Queues traces of the flows `request` names (none when tracing is unavailable). */
  request(request: TraceRequest): number {
    return this.status().available ? this.tracer!.request(request) : 0;
  }

  /** Stops the tracer. */
  close(): void {
    this.tracer?.close();
  }
}
