/**
 * `deno task demo`: a reflector, a collector and a scraper on loopback. The collector probes the
 * reflector from four source ports, and a second target where nobody answers, and prints each
 * interval's summary as it is published; then the scraper pulls the last one from the collector's
 * API and writes it to standard output as InfluxDB line protocol.
 *
 * @module
 */
import { formatAddress, type IntervalSummary, setupLogging } from "@llama/core";
import { startReflector } from "@llama/reflector";
import { parseCollectorConfig, resolveTargets, startCollector } from "@llama/collector";
import { loadScraperPlugins, parseScraperConfig, startScraper } from "@llama/scraper";

const INTERVALS = 3;
const INTERVAL_SECONDS = 2;

await using _logging = await setupLogging({ level: "warning" });
await using reflector = await startReflector({ hostname: "127.0.0.1", port: 0, maxPps: 0 });
const port = reflector.address.port;
const config = await resolveTargets(parseCollectorConfig(
  `
summarization: {interval: ${INTERVAL_SECONDS}, handlers: 2}
api: {bind: "127.0.0.1:0"}
source_tags: {src_hostname: demo-collector}
ports: {default: {ip: 0.0.0.0, port: 0, tos: 0, timeout: 500}}
port_groups: {default: [{port: default, count: 4}]}
rate_limits: {default: {cps: 10}}
tests: [{targets: default, port_group: default, rate_limit: default}]
targets:
  default:
    - {ip: 127.0.0.1, port: ${port}, tags: {dst_hostname: localhost}}
    - {ip: 127.0.0.3, port: ${port}, tags: {dst_hostname: nobody-home}}
`,
  { file: "demo" },
));

const { promise: done, resolve } = Promise.withResolvers<void>();
let seen = 0;
await using collector = await startCollector(config, {
  onSummary: (summary) => {
    print(summary);
    if (++seen === INTERVALS) resolve();
  },
});
const api = `http://${formatAddress(collector.apiAddress!)}`;
console.log(`Reflector on udp://127.0.0.1:${port}; collector API on ${api}`);
console.log(
  `Probing 2 targets from 4 source ports at 10 cycles/s; a summary every ${INTERVAL_SECONDS} s.`,
);
console.log(`Try: curl ${api}/influxdata   curl ${api}/api/v1/summaries   curl ${api}/metrics\n`);
await done;

console.log("The scraper pulls the last interval from the collector and writes line protocol:\n");
const scraperConfig = parseScraperConfig(`collectors: ["${api}"]\noutputs: [{use: stdout}]\n`, {
  file: "demo",
});
await using scraper = await startScraper(
  scraperConfig,
  await loadScraperPlugins(scraperConfig, undefined),
);
await scraper.scrapeNow();
await scraper.drained(5000);

function print(summary: IntervalSummary): void {
  console.log(
    `Interval ${summary.start} – ${summary.end.slice(11)} (${summary.timestampSource} timestamps)`,
  );
  for (const path of summary.paths) {
    const rtt = path.rtt === null
      ? "no answers"
      : `rtt p50 ${micro(path.rtt.p50)} p99 ${micro(path.rtt.p99)} jitter ${
        micro(path.jitter ?? 0)
      }`;
    console.log(
      `  ${path.srcIp} → ${path.dstIp.padEnd(10)} ${path.tags.dst_hostname.padEnd(12)} sent ${
        String(path.sent).padStart(3)
      }` +
        `  loss ${path.lossPercent.toFixed(1).padStart(5)}%  ${rtt}`,
    );
    const flows = path.flows.map((flow) => `:${flow.srcPort} ${flow.lossPercent.toFixed(0)}%`).join(
      "  ",
    );
    console.log(`      per flow (source port, loss): ${flows}`);
  }
  console.log();
}

function micro(milliseconds: number): string {
  return `${(milliseconds * 1000).toFixed(0)} µs`;
}
