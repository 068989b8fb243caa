// The scraper's round log line agrees with its output and /metrics: "written so far" counts the
// round's own points once they are written, not one round behind.
import assert from "node:assert/strict";
import { startProgram } from "./_process.ts";

const fixtureBody = await Deno.readFile(
  new URL("./fixtures/original/influxdata_response.json", import.meta.url),
);

Deno.test("the scraper's first round log line says its points are written once stdout has them", async () => {
  await using collector = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) =>
      new URL(request.url).pathname === "/influxdata"
        ? new Response(fixtureBody, { headers: { "content-type": "application/json" } })
        : new Response("404 page not found\n", { status: 404 }),
  );
  await using scraper = await startProgram("scraper/main.ts", [
    "-llama.collector-hosts",
    `127.0.0.1:${collector.addr.port}`,
    "-llama.interval",
    "1",
  ], { readyPattern: /Scraped 1 collectors .*written so far.*/ });
  const line = scraper.ready[0];
  // The fixture holds three paths: all three in, all three written, none waiting.
  assert.match(line, /: 3 points in; 3 written so far, 0 waiting/, scraper.stderr());
  await scraper.waitForStdout(/(^raw_stats,.*\n){3}/m);
  assert.equal((await scraper.stop("SIGTERM")).code, 0);
});
