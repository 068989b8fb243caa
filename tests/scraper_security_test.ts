// The scraper and locked-down collectors (issue 19): it scrapes an HTTPS collector that wants a
// token with --collector-ca and --collector-token-file, refuses it (logged, counted) without
// them, and locks its own matrix page and metrics with --api-token-file and HTTPS.
import { ok as assert, strictEqual as assertEquals } from "node:assert/strict";
import { loadApiSecurity, parseTokenFile } from "@llama/core";
import { loadCollectorConfig, startCollector } from "@llama/collector";
import { collectorClient, parseScraperConfig, startScraper } from "@llama/scraper";
import { runProgram, startProgram } from "./_process.ts";
import { collectorYaml } from "./_collector.ts";
import { assertRequirement } from "./_requirements.ts";
import { makeCertificates, NEEDS_OPENSSL, type TestCertificates } from "./_tls.ts";
import { assertEveryRouteLocked, listedRoutes, request } from "./_api_security.ts";

const COLLECTOR_TOKEN = "collector-token-0123456789";
const SCRAPER_TOKEN = "scraper-token-0123456789ab";

/** A collector in this process whose API wants COLLECTOR_TOKEN over HTTPS. */
async function lockedCollector(directory: string, files: TestCertificates) {
  await Deno.writeTextFile(`${directory}/collector-tokens.txt`, `${COLLECTOR_TOKEN}\n`);
  await Deno.writeTextFile(
    `${directory}/collector.yaml`,
    collectorYaml({ targets: [["127.3.0.1", 9, {}]], sockets: 1, cps: 2 }),
  );
  const security = await loadApiSecurity({
    tokenFile: `${directory}/collector-tokens.txt`,
    tlsCert: files.certFile,
    tlsKey: files.keyFile,
  });
  const collector = await startCollector(await loadCollectorConfig(`${directory}/collector.yaml`), {
    engine: "deno",
    apiSecurity: { tokens: () => security.tokens, tls: security.tls },
  });
  return Object.assign(collector, { url: `https://127.0.0.1:${collector.apiAddress!.port}` });
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 300; attempt++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test({
  name: "the scraper refuses an HTTPS collector it cannot trust, or that wants a token, counted",
  ignore: NEEDS_OPENSSL.ignore,
  async fn() {
    assertRequirement(NEEDS_OPENSSL);
    const directory = await Deno.makeTempDir({ prefix: "llama-scraper-security-" });
    try {
      const files = await makeCertificates(directory);
      await using collector = await lockedCollector(directory, files);
      const config = parseScraperConfig(`collectors: ["${collector.url}"]\n`);
      const ca = await Deno.readTextFile(files.caFile);
      const scrape = async (options: { token?: string; caCerts?: string[] }) => {
        using client = collectorClient(options);
        await using scraper = await startScraper(config, { outputs: [], tags: [] }, {
          fetch: client.fetch,
        });
        await scraper.scrapeNow();
        return { status: scraper.collectors()[0], metrics: scraper.metrics() };
      };
      const untrusted = await scrape({ token: COLLECTOR_TOKEN });
      assertEquals(untrusted.status.refused.tls, 1);
      assertEquals(untrusted.status.up, false);
      assert(untrusted.status.lastError?.includes("certificate is not trusted"));
      assert(untrusted.status.lastError?.includes("--collector-ca"));
      assert(
        /llama_scraper_responses_refused_total\{[^}]*reason="tls"\} 1/.test(untrusted.metrics),
      );
      const tokenless = await scrape({ caCerts: [ca] });
      assertEquals(tokenless.status.refused.unauthorized, 1);
      assertEquals(tokenless.status.refused.tls, 0);
      assert(tokenless.status.lastError?.includes("answered HTTP 401"));
      const wrong = await scrape({ caCerts: [ca], token: SCRAPER_TOKEN });
      assertEquals(wrong.status.refused.unauthorized, 1);
      const trusted = await scrape({ caCerts: [ca], token: COLLECTOR_TOKEN });
      assertEquals(trusted.status.up, true, trusted.status.lastError);
      assertEquals(trusted.status.failed, 0);

      // The program says why, in its log, and exits 1 with --once.
      const refused = await runProgram("scraper/main.ts", [
        "--once",
        "-llama.collector-hosts",
        collector.url,
        "--collector-token-file",
        `${directory}/collector-tokens.txt`,
      ]);
      assertEquals(refused.code, 1);
      assert(/Scrape failed: .*certificate is not trusted.*--collector-ca/.test(refused.stderr));
    } finally {
      await Deno.remove(directory, { recursive: true });
    }
  },
});

Deno.test({
  name: "the scraper scrapes an HTTPS collector with a token, and locks its own servers",
  ignore: NEEDS_OPENSSL.ignore,
  async fn() {
    assertRequirement(NEEDS_OPENSSL);
    const directory = await Deno.makeTempDir({ prefix: "llama-scraper-security-" });
    try {
      const files = await makeCertificates(directory);
      await using collector = await lockedCollector(directory, files);
      await Deno.writeTextFile(`${directory}/scraper-tokens.txt`, `${SCRAPER_TOKEN}\n`);
      await Deno.writeTextFile(
        `${directory}/scraper.yaml`,
        `collectors: ["${collector.url}"]\ninterval: 1\noffset: 0.2\n` +
          `data_directory: data\nui: "127.0.0.1:0"\nmetrics: "127.0.0.1:0"\n` +
          `api: {token_file: scraper-tokens.txt, tls_cert: server.pem, tls_key: server.key}\n` +
          `collector_token_file: collector-tokens.txt\ncollector_ca: ca.pem\n`,
      );
      await using scraper = await startProgram(
        "scraper/main.ts",
        ["--config", `${directory}/scraper.yaml`],
        { readyPattern: /Serving the matrix on https:\/\/(\S+)\// },
      );
      const metricsAddress = /Serving metrics on https:\/\/(\S+)\/metrics/.exec(scraper.stderr());
      assert(metricsAddress !== null, scraper.stderr());
      using client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(files.caFile)] });
      const ui = `https://${scraper.ready[1]}`;
      const routes = await listedRoutes(ui, { client, token: SCRAPER_TOKEN });
      for (const route of ["/", "/api/v1/matrix", "/api/v1/summaries", "/api/v1/traces"]) {
        assert(routes.includes(route), `${route} not in ${routes.join(", ")}`);
      }
      const locked = { client, token: SCRAPER_TOKEN, wrongToken: COLLECTOR_TOKEN };
      await assertEveryRouteLocked(ui, routes, locked);
      const metrics = `https://${metricsAddress[1]}`;
      await assertEveryRouteLocked(metrics, ["/metrics"], locked);
      const name = new URL(collector.url).host;
      await until(async () => {
        const text = (await request(`${metrics}/metrics`, locked)).text;
        return text.includes(`llama_scraper_collector_up{collector="${name}"} 1`) &&
          /llama_scraper_points_scraped_total\{[^}]*\} [1-9]/.test(text);
      }, "a scrape of the collector with points");
      assert(!scraper.stderr().includes("Scrape failed"), scraper.stderr());
    } finally {
      await Deno.remove(directory, { recursive: true });
    }
  },
});

Deno.test("scraper config: security paths resolve against the config's folder", () => {
  const config = parseScraperConfig(
    "collectors: [c1:5000]\napi: {token_file: t.txt}\ncollector_ca: /etc/ca.pem\n",
    { file: "/srv/llama/scraper.yaml" },
  );
  assertEquals(config.security.api.tokenFile, "/srv/llama/t.txt");
  assertEquals(config.security.collectorCa, "/etc/ca.pem");
  assertEquals(config.security.collectorTokenFile, undefined);
  let message = "";
  try {
    parseScraperConfig("collectors: [c1:5000]\napi: {tls_cert: a.pem}\n");
  } catch (error) {
    message = (error as Error).message;
  }
  assert(message.includes("api: tls_cert and tls_key go together"), message);
  assertEquals(parseTokenFile(`${SCRAPER_TOKEN}\n`).first, SCRAPER_TOKEN);
});
