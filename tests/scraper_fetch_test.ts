// The scraper program against collectors that attack it through HTTP: a redirect to a database's
// admin API, bodies too large to hold (declared, endless, a gzip bomb) and a body that never ends.

import assert from "node:assert/strict";
import { assertRequirement, requirement } from "./_requirements.ts";
import { startInfluxd } from "./_servers.ts";
import {
  fakeCollector,
  llamaCollector,
  memoryOf,
  startScraper,
  summaryBody,
  waitUntil,
} from "./_hostile.ts";

const needsInflux = requirement({ commands: ["influxd"] });
const MiB = 1024 * 1024;
/** What the scraper may reach while refusing every attack below: its baseline is about 100 MB. */
const RSS_LIMIT = 300 * MiB;

Deno.test({
  name:
    "scraper follows no redirect: a collector redirecting to InfluxDB's DROP DATABASE drops nothing",
  ignore: needsInflux.ignore,
  async fn() {
    assertRequirement(needsInflux);
    await using influx = await startInfluxd();
    await influx.query("CREATE DATABASE victim");
    const location = `${influx.url}/query?q=DROP+DATABASE+victim`;
    // Both APIs redirect, and both kinds of redirect (307 keeps the method).
    await using found = fakeCollector(() =>
      new Response(null, { status: 302, headers: { location } })
    );
    await using temporary = fakeCollector(() =>
      new Response(null, { status: 307, headers: { location } })
    );
    await using scraper = await startScraper(
      `collectors: [{url: "${found.address}", name: found}, {url: "${temporary.address}", name: temporary}]
interval: 1
offset: 0
timeout: 1
`,
    );
    await waitUntil(
      async () => {
        const metrics = await scraper.metrics();
        return ["found", "temporary"].every((name) =>
          metrics.get(`llama_scraper_scrapes_total{collector="${name}",result="failed"}`)! >= 2
        );
      },
      15_000,
      () => `no failed scrapes: ${scraper.stderr().slice(-2000)}`,
    );
    const databases = (await influx.rows("SHOW DATABASES")).map((row) => row.name);
    assert.ok(databases.includes("victim"), `the database was dropped: ${databases}`);
    const metrics = await scraper.metrics();
    for (const name of ["found", "temporary"]) {
      assert.ok(
        metrics.get(
          `llama_scraper_responses_refused_total{collector="${name}",reason="redirect"}`,
        )! >=
          2,
        `${name}'s redirects are counted`,
      );
    }
    const escaped = location.replace(/[.?+]/g, "\\$&");
    assert.match(
      scraper.stderr(),
      new RegExp(
        `collector found: GET http://${found.address}/api/v1/summaries\\?flows=false answered HTTP 302, a redirect to ${escaped}, which is not followed`,
      ),
    );
  },
});

/** A body that streams `chunk` `count` times (forever without a count), and how much was sent. */
function streamed(
  chunk: Uint8Array<ArrayBuffer>,
  count = Infinity,
): ReadableStream<Uint8Array<ArrayBuffer>> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent++ >= count) controller.close();
      else controller.enqueue(chunk);
    },
  });
}

Deno.test("scraper caps a collector's answer: 500 MB, an endless body and a gzip bomb leave it small, and scraping on", async () => {
  const spaces = new Uint8Array(MiB).fill(0x20);
  // 1 GiB of spaces gzips to about 1 MB.
  const bomb = new Uint8Array(
    await new Response(
      streamed(spaces, 1024).pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer(),
  );
  assert.ok(bomb.length < 2 * MiB, `the bomb is ${bomb.length} bytes`);
  const summaries = (request: Request, answer: () => Response) =>
    new URL(request.url).pathname === "/api/v1/summaries"
      ? answer()
      : new Response("", { status: 404 });
  await using good = llamaCollector(() => summaryBody());
  await using huge = fakeCollector((request) =>
    summaries(request, () =>
      new Response(streamed(spaces, 500), {
        headers: { "content-type": "application/json", "content-length": String(500 * MiB) },
      }))
  );
  await using endless = fakeCollector((request) =>
    summaries(
      request,
      () => new Response(streamed(spaces), { headers: { "content-type": "application/json" } }),
    )
  );
  await using gzipBomb = fakeCollector((request) =>
    summaries(request, () =>
      new Response(bomb, {
        headers: { "content-type": "application/json", "content-encoding": "gzip" },
      }))
  );
  const hostile = { huge, endless, bomb: gzipBomb };
  await using scraper = await startScraper(
    `collectors:
  - {url: "${good.address}", name: good}
${
      Object.entries(hostile).map(([name, collector]) =>
        `  - {url: "${collector.address}", name: ${name}}\n`
      ).join("")
    }interval: 2
offset: 0
timeout: 2
`,
  );
  let peak = 0;
  await waitUntil(
    async () => {
      const memory = await memoryOf(scraper.child.pid);
      peak = Math.max(peak, memory.peak);
      // Stop at once rather than let an unbounded scraper take the machine's memory.
      if (peak > RSS_LIMIT) return true;
      const metrics = await scraper.metrics();
      return metrics.get('llama_scraper_scrapes_total{collector="good",result="ok"}')! >= 2 &&
        Object.keys(hostile).every((name) =>
          metrics.get(`llama_scraper_scrapes_total{collector="${name}",result="failed"}`)! >= 2
        );
    },
    20_000,
    () => `not two rounds in time: ${scraper.stderr().slice(-3000)}`,
  );
  assert.ok(peak < RSS_LIMIT, `the scraper's peak RSS was ${(peak / MiB).toFixed(0)} MiB`);
  console.error(`scraper peak RSS under three oversized answers: ${(peak / MiB).toFixed(0)} MiB`);
  const metrics = await scraper.metrics();
  for (const name of ["huge", "bomb"]) {
    assert.ok(
      metrics.get(
        `llama_scraper_responses_refused_total{collector="${name}",reason="too_large"}`,
      )! >=
        2,
      `${name} is refused as too large each round`,
    );
  }
  const stderr = scraper.stderr();
  assert.match(
    stderr,
    /collector huge: GET \S+ answered 524288000 bytes \(content-length\), more than the 67108864 of max_response_bytes/,
  );
  assert.match(
    stderr,
    /collector bomb: GET \S+ answered more than the 67108864 bytes of max_response_bytes/,
  );
  assert.match(scraper.stdout(), /^raw_stats,dst_hostname=target-1,/m, "the good one is written");
});

Deno.test("scraper gives up a body that trickles in forever at the scrape's timeout, and scrapes it again", async () => {
  await using trickle = fakeCollector((request) => {
    if (new URL(request.url).pathname !== "/api/v1/summaries") {
      return new Response("", { status: 404 });
    }
    const space = new Uint8Array([0x20]);
    return new Response(
      new ReadableStream({
        async pull(controller) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          controller.enqueue(space);
        },
      }),
    );
  });
  await using scraper = await startScraper(
    `collectors: [{url: "${trickle.address}", name: trickle}]\ninterval: 1\noffset: 0\ntimeout: 0.5\n`,
  );
  await waitUntil(
    async () =>
      (await scraper.metrics()).get(
        'llama_scraper_scrapes_total{collector="trickle",result="failed"}',
      )! >= 2,
    10_000,
    () => `the trickle was not given up: ${scraper.stderr().slice(-2000)}`,
  );
  assert.match(
    scraper.stderr(),
    /collector trickle: GET \S+\/api\/v1\/summaries\?flows=false failed: timed out/,
  );
});

Deno.test("scraper refuses an answer under the cap that is all empty objects (JSON.parse would make 22 million), and scrapes on", async () => {
  // 64 MiB less a little of `{},`: parsed, 2.2 GB of heap and seconds of CPU.
  const count = Math.floor((64 * MiB - 64) / 3);
  const dense = new TextEncoder().encode(`{"paths":[${"{},".repeat(count)}{}]}`);
  await using good = llamaCollector(() => summaryBody());
  await using objects = fakeCollector((request) =>
    new URL(request.url).pathname === "/api/v1/summaries"
      ? new Response(dense, { headers: { "content-type": "application/json" } })
      : new Response("", { status: 404 })
  );
  await using scraper = await startScraper(
    `collectors: [{url: "${good.address}", name: good}, {url: "${objects.address}", name: objects}]
interval: 2
offset: 0
timeout: 2
`,
  );
  let peak = 0;
  await waitUntil(
    async () => {
      peak = Math.max(peak, (await memoryOf(scraper.child.pid)).peak);
      if (peak > RSS_LIMIT) return true;
      const metrics = await scraper.metrics();
      return metrics.get('llama_scraper_scrapes_total{collector="good",result="ok"}')! >= 2 &&
        metrics.get('llama_scraper_scrapes_total{collector="objects",result="failed"}')! >= 2;
    },
    20_000,
    () => `not two rounds in time: ${scraper.stderr().slice(-3000)}`,
  );
  assert.ok(peak < RSS_LIMIT, `the scraper's peak RSS was ${(peak / MiB).toFixed(0)} MiB`);
  console.error(`scraper peak RSS under 64 MiB of empty objects: ${(peak / MiB).toFixed(0)} MiB`);
  const metrics = await scraper.metrics();
  assert.ok(
    metrics.get('llama_scraper_responses_refused_total{collector="objects",reason="too_dense"}')! >=
      2,
  );
  assert.match(
    scraper.stderr(),
    /collector objects: GET \S+ answered \d{8} objects and lists in \d{8} bytes, more than one per 32 bytes/,
  );
});
