// One collector's part of a round's tracing: fetch its traces, count and log what went wrong,
// and hand the fleet view its traces. A failure here never fails the collector's scrape.
import type { Logger } from "@logtape/logtape";
import type { Point } from "@llama/plugins";
import type { CollectorStatus } from "./collector_status.ts";
import { ScrapeRefusedError } from "./errors.ts";
import type { FleetTraces } from "./fleet_traces.ts";
import { scrapeTraces } from "./scrape_traces.ts";

/** What `takeTraces` needs besides the collector. */
export interface TakeTracesOptions {
  fleet: FleetTraces;
  signal: AbortSignal;
  maxResponseBytes: number;
  fetch: typeof fetch;
}

/**
 * Scrapes `status`'s collector's traces into `options.fleet`, returning its path-change points.
 * A collector that does not trace is logged once (each time it stops) and keeps no traces; a
 * refused or broken answer is counted in `status.refused` and logged, and the collector's last
 * traces are kept.
 */
export async function takeTraces(
  status: CollectorStatus,
  log: Logger,
  options: TakeTracesOptions,
): Promise<Point[]> {
  const name = status.collector.name;
  try {
    const result = await scrapeTraces(status.collector, options);
    if (!result.tracing) {
      if (status.tracing !== false) {
        log.info("Collector {collector} does not trace flows: {reason}", {
          collector: name,
          reason: result.reason,
        });
      }
      status.tracing = false;
      return options.fleet.update(name, []);
    }
    status.tracing = true;
    return options.fleet.update(name, result.traces);
  } catch (error) {
    if (error instanceof ScrapeRefusedError) {
      status.refused[error.reason]++;
      log.warn("Traces of collector {collector} refused: {error}", { collector: name, error });
    } else {
      log.warn("Traces of collector {collector} not taken: {error}", { collector: name, error });
    }
    return [];
  }
}
