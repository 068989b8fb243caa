import { ConfigError, PluginError } from "@llama/core";
import type { OutputPlugin } from "../contract.ts";
import { PLUGIN_CONTRACT_VERSION } from "../contract.ts";
import { OptionsReader } from "../options.ts";
import { groupAggregates } from "./_group_aggregates.ts";
import { labelName, toRemoteSeries } from "./_prometheus_series.ts";
import { encodeWriteRequest } from "./_remote_write_codec.ts";

/** Options of the `remote_write` output. */
export interface RemoteWriteOptions {
  /** The receiver: `http://prometheus:9090/api/v1/write`, `http://victoria:8428/api/v1/write`. */
  url: URL;
  /** Per-path (and per-flow) series: every path's, lossy paths' only, or none. */
  paths: "all" | "lossy" | "none";
  /** The two tags that make a group for the aggregates (`src_rack`, `dst_rack`). */
  groupBy: readonly [string, string];
  /** Labels added to every series that lacks them (one per scraper, when several write). */
  labels: Readonly<Record<string, string>>;
  /** Headers of every request (`authorization`, a tenant's header). */
  headers: Readonly<Record<string, string>>;
  /** Longest a request may take, in milliseconds. */
  timeoutMs: number;
}

/** Headers that a remote_write 1.0 request carries (Prometheus's remote write spec). */
const PROTOCOL_HEADERS = {
  "content-type": "application/x-protobuf",
  "content-encoding": "snappy",
  "x-prometheus-remote-write-version": "0.1.0",
  "user-agent": "llama-scraper",
};

/**
 * Writes to anything that takes Prometheus remote_write 1.0 (Prometheus with
 * `--web.enable-remote-write-receiver`, VictoriaMetrics, Mimir, Thanos receive, …): series named
 * the Prometheus way (`llama_path_loss_ratio`, `llama_path_rtt_seconds{quantile="0.99"}`), with
 * per-group aggregates of every scrape round (`llama_group_loss_ratio{src_rack,dst_rack}`) and
 * per-path series for every path, lossy paths only, or none (`paths`).
 *
 * @example
 * ```ts
 * import { remoteWriteOutput } from "@llama/plugins";
 * const options = remoteWriteOutput.parseOptions(
 *   { url: "http://127.0.0.1:8428/api/v1/write", paths: "lossy" },
 *   "outputs[0].options",
 * );
 * console.assert(options.paths === "lossy" && options.groupBy[0] === "src_rack");
 * ```
 */
export const remoteWriteOutput: OutputPlugin<RemoteWriteOptions> = {
  kind: "output",
  name: "remote_write",
  contract: PLUGIN_CONTRACT_VERSION,
  parseOptions(raw, path) {
    const options = new OptionsReader(raw, path, "remote_write");
    const url = options.url("url", ["http:", "https:"]);
    const paths = options.oneOf("paths", ["all", "lossy", "none"] as const, "all");
    const groupBy = options.list("group_by") ?? ["src_rack", "dst_rack"];
    const labels = options.strings("labels");
    const headers = options.strings("headers");
    const timeoutMs = options.number("timeout_ms", { min: 100, max: 600_000, fallback: 10_000 });
    options.done();
    const fail = (key: string, detail: string) =>
      new ConfigError(`remote_write: ${detail}`, { path: `${path}.${key}` });
    if (url === undefined) {
      throw fail(
        "url",
        "missing: expected the receiver's URL, like http://127.0.0.1:9090/api/v1/write",
      );
    }
    if (groupBy.length !== 2 || groupBy[0] === groupBy[1]) {
      throw fail(
        "group_by",
        `expected two different tags, like [src_rack, dst_rack], got ${JSON.stringify(groupBy)}`,
      );
    }
    for (const name of Object.keys(labels)) {
      if (labelName(name) !== name) {
        throw fail(
          `labels.${name}`,
          `not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __)`,
        );
      }
    }
    const parsed: RemoteWriteOptions = {
      url,
      paths,
      groupBy: [groupBy[0], groupBy[1]],
      labels,
      headers,
      timeoutMs,
    };
    return parsed;
  },
  create(options, context) {
    const name = context.name;
    const headers = { ...options.headers, ...PROTOCOL_HEADERS };
    return {
      aggregate: (points) => groupAggregates(points, options.groupBy),
      async write(points, hostSignal) {
        const series = toRemoteSeries(points, options);
        if (series.length === 0) return;
        const body = encodeWriteRequest(series);
        const signal = AbortSignal.any([hostSignal, AbortSignal.timeout(options.timeoutMs)]);
        let response: Response;
        try {
          response = await fetch(options.url, { method: "POST", headers, body, signal });
        } catch (error) {
          const reason = signal.aborted ? "timed out" : (error as Error).message;
          throw new PluginError(name, `${options.url.origin} unreachable: ${reason}`, {
            cause: error,
          });
        }
        if (response.ok) {
          await response.body?.cancel();
          return;
        }
        const text = (await response.text()).slice(0, 300).trim();
        throw new PluginError(
          name,
          `${options.url.href} answered HTTP ${response.status}: ${text}`,
          { retryable: retryableStatus(response.status) },
        );
      },
    };
  },
};

/**
 * As the remote write spec says, a 5xx or a 429 (slow down) is retried and any other 4xx is not
 * (a sample Prometheus refuses: out of order, a duplicate, older than its head; a body too large:
 * the host splits the batch) — except 401, 403 and 404, the receiver's state (credentials, or
 * Prometheus without `--web.enable-remote-write-receiver`), not the points': they wait until it
 * is fixed rather than being set aside by the thousand.
 */
function retryableStatus(status: number): boolean {
  if (status < 400 || status >= 500) return true;
  return status === 401 || status === 403 || status === 404 || status === 408 || status === 429;
}
