// A real Prometheus (Debian's `prometheus`) for integration tests: its remote_write receiver on,
// no scrape jobs unless asked for (`scrape`), listening on loopback only, its TSDB in a temporary folder that stays across
// stop() and start() so a test can take it down for a while.
import { freePort, type ManagedServer, ServerProcess, startOnFreePort } from "./_servers.ts";

/** One series of a PromQL range-vector result: its labels and raw samples. */
export interface PromSeries {
  /** `__name__` and the labels. */
  metric: Record<string, string>;
  /** `[seconds since the epoch, value as text]`, oldest first. */
  values: [number, string][];
}

/** A running Prometheus. */
export interface PrometheusServer extends ManagedServer {
  /** Where remote_write requests go. */
  readonly writeUrl: string;
  /**
   * Runs a PromQL instant query at `time` (ms since the epoch) and returns its result's series;
   * a range selector such as `llama_path_loss_ratio[1h]` gives every raw sample. Throws on errors.
   */
  query(promql: string, time: number): Promise<PromSeries[]>;
}

/** A scrape job: Prometheus reads `http://TARGET/metrics` of each target every second. */
export interface ScrapeJob {
  /** The `job` label. */
  job: string;
  /** `host:port` of each target. */
  targets: string[];
}

/**
 * Starts Prometheus with `--web.enable-remote-write-receiver` and waits for `/-/ready`. Without
 * `scrape` only what the test writes is in the TSDB; with it, each job is scraped every second.
 */
export async function startPrometheus(
  options: { scrape?: ScrapeJob[]; ruleFiles?: string[] } = {},
): Promise<PrometheusServer> {
  const directory = await Deno.makeTempDir({ prefix: "llama-prometheus-" });
  const dataDirectory = `${directory}/data`;
  const configFile = `${directory}/prometheus.yml`;
  await Deno.writeTextFile(configFile, prometheusConfig(options.scrape ?? [], options.ruleFiles));
  const running = await startOnFreePort(directory, () => {
    const port = freePort();
    return new ServerProcess({
      name: "prometheus",
      command: "prometheus",
      args: [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${dataDirectory}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--web.enable-remote-write-receiver",
        "--log.level=error",
      ],
      readyUrl: `http://127.0.0.1:${port}/-/ready`,
      readyStatus: 200,
    });
  });
  const url = new URL(running.readyUrl).origin;
  return {
    url,
    writeUrl: `${url}/api/v1/write`,
    dataDirectory,
    output: () => running.output(),
    stop: () => running.stop(),
    start: () => running.start(),
    async query(promql, time) {
      const target = new URL("/api/v1/query", url);
      target.searchParams.set("query", promql);
      target.searchParams.set("time", String(time / 1000));
      const response = await fetch(target);
      const text = await response.text();
      if (!response.ok) {
        throw new Error(`prometheus: ${promql} answered ${response.status}: ${text}`);
      }
      const body = JSON.parse(text) as {
        data: { resultType: string; result: Array<PromSeries & { value?: [number, string] }> };
      };
      return body.data.result.map((series) => ({
        metric: series.metric,
        values: series.values ?? (series.value === undefined ? [] : [series.value]),
      })).sort((a, b) => JSON.stringify(a.metric).localeCompare(JSON.stringify(b.metric)));
    },
    async [Symbol.asyncDispose]() {
      await running.stop();
      await Deno.remove(directory, { recursive: true });
    },
  };
}

function prometheusConfig(jobs: ScrapeJob[], ruleFiles: string[] = []): string {
  if (jobs.length === 0 && ruleFiles.length === 0) return "global:\n  scrape_interval: 1h\n";
  // JSON is YAML: no quoting to get wrong.
  return JSON.stringify({
    global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
    rule_files: ruleFiles,
    scrape_configs: jobs.map(({ job, targets }) => ({
      job_name: job,
      static_configs: [{ targets }],
    })),
  });
}
