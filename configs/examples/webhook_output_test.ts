// Tests the example as the scraper uses it: named in a config in configs/, loaded by the real
// loader, writing to a real HTTP server on loopback.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { getLogger } from "@logtape/logtape";
import { ConfigError, PluginError } from "@llama/core";
import { loadPlugin, type Output, type Point } from "@llama/plugins";

const CONFIGS = fileURLToPath(new URL("../", import.meta.url));

/** A server on 127.0.0.1 that records requests and answers with the next status in `statuses`. */
function startServer(statuses: number[]) {
  const requests: { method: string; path: string; headers: Headers; body: unknown }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    requests.push({
      method: request.method,
      path: new URL(request.url).pathname,
      headers: request.headers,
      body: await request.json(),
    });
    const status = statuses.shift() ?? 204;
    return new Response(status === 204 ? null : `status ${status}`, { status });
  });
  return { server, requests, url: `http://127.0.0.1:${server.addr.port}/points` };
}

async function webhook(options: unknown): Promise<Output> {
  const plugin = await loadPlugin("./examples/webhook_output.ts", "output", {
    baseDirectory: CONFIGS,
  });
  assert.equal(plugin.name, "webhook");
  const parsed = plugin.parseOptions(options, "outputs[0].options");
  return await plugin.create(parsed, {
    name: "hook",
    logger: getLogger(["llama", "plugin", "hook"]),
    configDirectory: CONFIGS,
    dataDirectory: undefined,
    signal: new AbortController().signal,
  });
}

const points: Point[] = [{
  measurement: "raw_stats",
  tags: { src_ip: "10.0.0.1", dst_ip: "10.0.0.2" },
  fields: { loss: 0, rtt: 0.2 },
  time: 1764090000000,
}];

/** The PluginError that `write` throws. */
async function writeError(output: Output): Promise<PluginError> {
  const error = await output.write(points, new AbortController().signal).then(
    () => assert.fail("the write should fail"),
    (error: unknown) => error,
  );
  assert.ok(error instanceof PluginError, `expected a PluginError, got ${error}`);
  assert.equal(error.plugin, "hook");
  return error;
}

Deno.test("webhook example POSTs each batch as JSON, with the configured headers", async () => {
  const { server, requests, url } = startServer([]);
  await using _server = server;
  const output = await webhook({ url, headers: { authorization: "Bearer xyz" } });
  await output.write(points, new AbortController().signal);
  await output.write([...points, ...points], new AbortController().signal);
  assert.equal(requests.length, 2);
  assert.equal(requests[0].method, "POST");
  assert.equal(requests[0].path, "/points");
  assert.equal(requests[0].headers.get("authorization"), "Bearer xyz");
  assert.equal(requests[0].headers.get("content-type"), "application/json");
  assert.deepEqual(requests[0].body, { points });
  assert.equal((requests[1].body as { points: Point[] }).points.length, 2);
});

Deno.test("webhook example makes a 5xx retryable and a 4xx final", async () => {
  const { server, url } = startServer([500, 400, 429]);
  await using _server = server;
  const output = await webhook({ url });
  const serverError = await writeError(output);
  assert.equal(serverError.retryable, true);
  assert.match(serverError.message, /^hook: HTTP 500: status 500$/);
  const badRequest = await writeError(output);
  assert.equal(badRequest.retryable, false);
  assert.match(badRequest.message, /HTTP 400/);
  assert.equal((await writeError(output)).retryable, true);
});

Deno.test("webhook example makes an unreachable server retryable", async () => {
  const { server, url } = startServer([]);
  await server.shutdown(); // nothing listens on the port now
  const output = await webhook({ url });
  const error = await writeError(output);
  assert.equal(error.retryable, true);
  assert.match(error.message, /unreachable/);
});

Deno.test("webhook example checks its options", async () => {
  await assert.rejects(
    webhook({}),
    (error: unknown) =>
      error instanceof ConfigError && error.path === "outputs[0].options.url" &&
      error.message.includes("webhook: missing: expected the URL to POST points to"),
  );
  await assert.rejects(webhook({ url: "ftp://x/" }), /expected a http: or https: URL/);
  await assert.rejects(webhook({ url: "http://x/", header: {} }), /unknown option "header"/);
});
