// `deno task scraper … | head -5`: once the reader of standard output closes the pipe, the
// scraper ends quietly, and an output that is still open has written every point it was given.
import assert from "node:assert/strict";
import { ROOT } from "./_process.ts";

const fixtureBody = await Deno.readFile(
  new URL("./fixtures/original/influxdata_response.json", import.meta.url),
);

/** A collector of the original kind: every scrape gets the fixture's three paths. */
function originalCollector(): Deno.HttpServer<Deno.NetAddr> & { served: () => number } {
  let served = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    if (new URL(request.url).pathname !== "/influxdata") {
      return new Response("404 page not found\n", { status: 404 });
    }
    served++;
    return new Response(fixtureBody, { headers: { "content-type": "application/json" } });
  });
  return Object.assign(server, { served: () => served });
}

Deno.test("scraper whose stdout reader closes the pipe ends with exit 0, and its csv file holds every point", async () => {
  await using collector = originalCollector();
  const directory = await Deno.makeTempDir({ prefix: "llama-scraper-pipe-" });
  try {
    const csv = `${directory}/points.csv`;
    const config = `${directory}/scraper.yaml`;
    await Deno.writeTextFile(
      config,
      [
        `collectors: ["127.0.0.1:${collector.addr.port}"]`,
        "interval: 1",
        "offset: 0",
        "timeout: 1",
        `data_directory: ${directory}/data`,
        "outputs:",
        "  - use: stdout",
        "  - use: csv",
        `    options: {file: ${csv}}`,
      ].join("\n"),
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "scraper/main.ts", "--config", config],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const stderr = new Response(child.stderr).text();
    // Like `head -1`: read one chunk, then close the pipe.
    const reader = child.stdout.getReader();
    const first = await reader.read();
    assert.equal(first.done, false);
    assert.match(new TextDecoder().decode(first.value), /^raw_stats,/);
    await reader.cancel();
    const timeout = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const status = await child.status;
    clearTimeout(timeout);
    const log = await stderr;
    assert.ok(status.code === 0 || status.code === 141, `exit ${status.code}: ${log}`);
    assert.equal(status.signal, null, log);
    assert.match(log, /stdout stops writing: .*broken pipe/);
    assert.doesNotMatch(log, /retry \d+ in/, "a closed pipe is not retried");
    // Every scrape the collector answered reached the csv file: three points each.
    const rows = (await Deno.readTextFile(csv)).trim().split("\n").slice(1);
    assert.equal(rows.length, collector.served() * 3, log);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});
