// The Grafana dashboards and alerting rules against the real programs: a reflector and a collector
// in-process on loopback, a scraper as a subprocess, and a real Prometheus scraping all three
// (with the rules loaded). Every metric a rule or panel names is on a program's /metrics, so they
// cannot drift from the code; every panel's query returns series; every rule evaluates cleanly.
import assert from "node:assert/strict";
import { serveMetrics } from "@llama/core";
import { startReflector } from "@llama/reflector";
import { reflectorMetrics } from "../reflector/metrics.ts";
import { assertRequirement, requirement } from "./_requirements.ts";
import { startPrometheus } from "./_prometheus_server.ts";
import { startProgram } from "./_process.ts";
import { eventually } from "./_interval_collector.ts";
import { startRecordingCollector } from "./_collector.ts";
import {
  DEPLOY,
  fillVariables,
  llamaMetricNames,
  readDashboards,
  readRuleQueries,
  variableValues,
} from "./_dashboards.ts";

const needs = requirement({ commands: ["prometheus"] });

/** Metric names a Prometheus text page declares (`# TYPE name …`). */
function declaredNames(text: string): Set<string> {
  return new Set(
    text.split("\n").filter((line) => line.startsWith("# TYPE ")).map((line) => line.split(" ")[2]),
  );
}

Deno.test("fillVariables fills dashboard and built-in variables and refuses unknown ones", () => {
  assert.equal(
    fillVariables('rate(x{a="$a"}[$__rate_interval]) by (${b})', { a: "1", b: "dst" }),
    'rate(x{a="1"}[15s]) by (dst)',
  );
  assert.throws(
    () => fillVariables('x{a="$typo"}', {}, "d.json"),
    /d\.json: unknown variable \$typo/,
  );
});

Deno.test("llamaMetricNames finds every llama metric an expression reads, once", () => {
  assert.deepEqual(
    llamaMetricNames("sum(llama_a_total) / sum(llama_b) + llama_a_total and up"),
    ["llama_a_total", "llama_b"],
  );
});

Deno.test({
  name:
    "every rule and panel reads metrics the real programs serve, every panel query returns series from a real Prometheus, and every rule evaluates",
  ignore: needs.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    assertRequirement(needs);
    await using reflector = await startReflector({ hostname: "127.0.0.1", port: 0 });
    await using reflectorServer = await serveMetrics(
      { hostname: "127.0.0.1", port: 0 },
      () => reflectorMetrics(reflector.counters()),
    );
    // One target answering, one (127.0.0.2, nothing listening) silent: 100% loss.
    await using recording = await startRecordingCollector(
      `source_tags: {src_region: west}
summarization: {interval: 1, handlers: 2}
api: {bind: "127.0.0.1:0"}
ports: {p: {ip: "127.0.0.1", port: 0, tos: 0, timeout: 300}}
port_groups: {g: [{port: p, count: 4}]}
rate_limits: {r: {cps: 20}}
tests: [{targets: t, port_group: g, rate_limit: r}]
targets:
  t:
    - {ip: 127.0.0.1, port: ${reflector.address.port}, tags: {dst_region: west}}
    - {ip: 127.0.0.2, port: ${reflector.address.port}, tags: {dst_region: east}}
`,
      { serveApi: true },
    );
    const collectorAddress = recording.collector.apiAddress!;
    const collector = `127.0.0.1:${collectorAddress.port}`;
    const directory = await Deno.makeTempDir({ prefix: "llama-dashboards-" });
    try {
      const config = `${directory}/scraper.yaml`;
      await Deno.writeTextFile(
        config,
        `collectors: ["${collector}"]
interval: 1
offset: 0.2
timeout: 0.5
data_directory: ${directory}/data
metrics: 127.0.0.1:0
outputs:
  - use: csv
    options: { file: ${directory}/llama.csv }
`,
      );
      await using scraper = await startProgram("scraper/main.ts", ["--config", config], {
        readyPattern: /Serving metrics on http:\/\/(\S+)\/metrics/,
      });
      const scraperAddress = scraper.ready[1];
      const reflectorAddress = `127.0.0.1:${reflectorServer.address.port}`;
      await using prometheus = await startPrometheus({
        scrape: [
          { job: "llama-collector", targets: [collector] },
          { job: "llama-reflector", targets: [reflectorAddress] },
          { job: "llama-scraper", targets: [scraperAddress] },
        ],
        ruleFiles: [new URL("prometheus/llama.rules.yml", DEPLOY).pathname],
      });
      await recording.next(3);

      await t.step(
        "every metric a rule or panel reads is on a real program's /metrics",
        async () => {
          const served = new Set<string>();
          for (const address of [collector, reflectorAddress, scraperAddress]) {
            const text = await (await fetch(`http://${address}/metrics`)).text();
            for (const name of declaredNames(text)) served.add(name);
          }
          const queries = [
            ...await readRuleQueries(),
            ...(await readDashboards()).flatMap((dashboard) => dashboard.queries),
          ];
          assert.ok(queries.length > 30, `only ${queries.length} queries`);
          const missing = queries.flatMap(({ where, expr }) =>
            llamaMetricNames(expr).filter((name) => !served.has(name)).map((name) =>
              `${where}: ${name}`
            )
          );
          assert.deepEqual(missing, [], "metrics no program serves");
        },
      );

      await t.step("every panel's query returns series from Prometheus", async () => {
        const labelValues = async (selector: string, label: string) => {
          const url = new URL(`/api/v1/label/${label}/values`, prometheus.url);
          url.searchParams.set("match[]", selector);
          return ((await (await fetch(url)).json()) as { data: string[] }).data;
        };
        const empty = async () => {
          const found: string[] = [];
          for (const dashboard of await readDashboards()) {
            // Before the first scrapes a variable has no value yet: that counts as empty too.
            const values = await variableValues(dashboard, labelValues).catch((error) => error);
            if (values instanceof Error) {
              found.push(values.message);
              continue;
            }
            for (const query of dashboard.queries) {
              const expr = fillVariables(query.expr, values, query.where);
              const series = await prometheus.query(expr, Date.now());
              if (series.length === 0) found.push(`${query.where}: ${expr}`);
            }
          }
          return found;
        };
        // Rates need two scrapes in their window, and scrapes start a second apart.
        let last: string[] = [];
        await eventually(
          async () => (last = await empty()).length === 0,
          () => `panels with no data:\n${last.join("\n")}`,
          30_000,
        );
      });

      await t.step("Prometheus evaluates every rule without an error", async () => {
        const url = new URL("/api/v1/rules", prometheus.url);
        type Rule = { name: string; health: string; lastError?: string };
        let rules: Rule[] = [];
        await eventually(
          async () => {
            const body = (await (await fetch(url)).json()) as {
              data: { groups: { rules: Rule[] }[] };
            };
            rules = body.data.groups.flatMap((group) => group.rules);
            return rules.length > 0 && rules.every((rule) => rule.health !== "unknown");
          },
          () => `rules not evaluated: ${JSON.stringify(rules)}`,
          30_000,
        );
        assert.equal(rules.length, (await readRuleQueries()).length);
        const failing = rules.filter((rule) => rule.health !== "ok");
        assert.deepEqual(failing, [], "rules Prometheus could not evaluate");
      });
      assert.equal((await scraper.stop("SIGTERM")).code, 0, scraper.stderr());
    } finally {
      await Deno.remove(directory, { recursive: true });
    }
  },
});
