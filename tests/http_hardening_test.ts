// Attacks on the real programs' HTTP servers: slow and idle connections, more connections than
// the cap, more than the process has file descriptors, and a flood of summaries nobody reads.
import { ok as assert, strictEqual as assertEquals } from "node:assert/strict";
import { HTTP_LIMITS } from "@llama/core";
import { type RunningProgram, startProgram } from "./_process.ts";
import { collectorYaml } from "./_collector.ts";
import { parsePrometheusText } from "./_prometheus.ts";
import { assertRequirement, requirement } from "./_requirements.ts";

const API_READY = /Serving the API on http:\/\/127\.0\.0\.1:(\d+)/;
const METRICS_READY = /Serving metrics on http:\/\/127\.0\.0\.1:(\d+)/;
const encoder = new TextEncoder();

async function startCollectorProgram(
  options: { wrap?: string[]; targets?: number } = {},
): Promise<RunningProgram & { port: number; [Symbol.asyncDispose](): Promise<void> }> {
  const directory = await Deno.makeTempDir({ prefix: "llama-http-" });
  const file = `${directory}/collector.yaml`;
  // Targets nobody answers: the probes are lost, which is all the API needs.
  const targets = Array.from(
    { length: options.targets ?? 4 },
    (_, index) =>
      [`127.3.${Math.floor(index / 250)}.${(index % 250) + 1}`, 9, {}] as [
        string,
        number,
        Record<string, string>,
      ],
  );
  await Deno.writeTextFile(file, collectorYaml({ targets, sockets: 1, cps: 1, interval: 1 }));
  try {
    const program = await startProgram("collector/main.ts", ["--config", file], {
      readyPattern: API_READY,
      wrap: options.wrap,
      denoArgs: ["--frozen=false"],
    });
    return Object.assign(program, {
      port: Number(program.ready[1]),
      [Symbol.asyncDispose]: async () => {
        await program.stop("SIGKILL");
        await Deno.remove(directory, { recursive: true });
      },
    });
  } catch (error) {
    await Deno.remove(directory, { recursive: true });
    throw error;
  }
}

/** The value of `name` with `labels` (in the order the program writes them), if present. */
function metricValue(
  text: string,
  name: string,
  labels: Record<string, string>,
): number | undefined {
  const pairs = Object.entries(labels).map(([key, value]) => `${key}="${value}"`).join(",");
  return parsePrometheusText(text).get(pairs === "" ? name : `${name}{${pairs}}`);
}

async function status(port: number, timeoutMs = 3_000): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/status`, {
    signal: AbortSignal.timeout(timeoutMs),
  });
  return await response.text();
}

async function metrics(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
    signal: AbortSignal.timeout(5_000),
  });
  return await response.text();
}

/** Resolves to the milliseconds until the server closed `conn` (read returns end or an error). */
async function closedAfter(conn: Deno.Conn, timeoutMs: number): Promise<number | undefined> {
  const started = performance.now();
  const buffer = new Uint8Array(4096);
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    while ((await conn.read(buffer)) !== null) { /* a response: keep reading until closed */ }
    return performance.now() - started;
  } catch {
    return performance.now() - started >= timeoutMs ? undefined : performance.now() - started;
  } finally {
    clearTimeout(timer);
  }
}

async function openConnections(port: number, count: number): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  for (let index = 0; index < count; index++) {
    conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
  }
  return conns;
}

function closeAll(conns: Deno.Conn[]): void {
  for (const conn of conns) {
    try {
      conn.close();
    } catch { /* closed by the server */ }
  }
}

Deno.test("the collector API closes silent, half-sent and trickled request heads within its header deadline", async () => {
  await using collector = await startCollectorProgram();
  const silent = await Deno.connect({ hostname: "127.0.0.1", port: collector.port });
  const half = await Deno.connect({ hostname: "127.0.0.1", port: collector.port });
  await half.write(encoder.encode("GET /status HTTP/1.1\r\nHost: x\r\n"));
  const trickled = await Deno.connect({ hostname: "127.0.0.1", port: collector.port });
  let trickling = true;
  const trickle = (async () => {
    for (let index = 0; trickling; index++) {
      await trickled.write(encoder.encode(index === 0 ? "GET / HTTP/1.1\r\n" : "X: y\r\n"))
        .catch(() => (trickling = false));
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  })();
  const limit = HTTP_LIMITS.headersTimeoutMs + 5_000;
  const [silentMs, halfMs, trickledMs] = await Promise.all(
    [silent, half, trickled].map((conn) => closedAfter(conn, limit)),
  );
  trickling = false;
  await trickle;
  assert(silentMs !== undefined, "a connection that sent nothing stayed open");
  assert(halfMs !== undefined, "a connection that sent half a head stayed open");
  assert(trickledMs !== undefined, "a connection trickling its head stayed open");
  assertEquals(await status(collector.port), "ok");
  const text = await metrics(collector.port);
  assertEquals(
    metricValue(text, "llama_http_connections_timed_out_total", {
      server: "api",
      deadline: "headers",
    }),
    3,
  );
});

Deno.test("the collector API refuses connections over its cap, counts them, and serves again", async () => {
  await using collector = await startCollectorProgram();
  const conns = await openConnections(collector.port, HTTP_LIMITS.maxConnections + 50);
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
  } finally {
    closeAll(conns);
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  assertEquals(await status(collector.port), "ok");
  const text = await metrics(collector.port);
  assert(
    (metricValue(text, "llama_http_connections_refused_total", { server: "api" }) ?? 0) >= 50,
    text,
  );
});

const prlimit = requirement({ commands: ["prlimit"] });

Deno.test({
  name: "the collector API survives running out of file descriptors and serves once they are freed",
  ignore: prlimit.ignore,
  async fn() {
    assertRequirement(prlimit);
    await using collector = await startCollectorProgram({
      wrap: ["prlimit", "--nofile=200:200", "--"],
    });
    const conns = await openConnections(collector.port, 400);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    } finally {
      closeAll(conns);
    }
    // The accept loop backs off up to a second at a time.
    let answer = "";
    for (let attempt = 0; attempt < 10 && answer !== "ok"; attempt++) {
      answer = await status(collector.port, 2_000).catch(() => "");
    }
    assertEquals(answer, "ok");
    const text = await metrics(collector.port);
    assert(
      (metricValue(text, "llama_http_accept_errors_total", { server: "api", code: "EMFILE" }) ??
        0) > 0,
      text,
    );
    assert(
      !/Too many open files/.test(
        collector.stderr().split("\n").filter((line) => line.includes("Uncaught")).join("\n"),
      ),
    );
  },
});

Deno.test({
  name: "the reflector's metrics server survives running out of file descriptors",
  ignore: prlimit.ignore,
  async fn() {
    assertRequirement(prlimit);
    await using reflector = await startProgram("reflector/main.ts", [
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--metrics",
      "127.0.0.1:0",
    ], {
      readyPattern: METRICS_READY,
      wrap: ["prlimit", "--nofile=200:200", "--"],
      denoArgs: ["--frozen=false"],
    });
    const port = Number(reflector.ready[1]);
    const conns = await openConnections(port, 400);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    } finally {
      closeAll(conns);
    }
    let answer = "";
    for (let attempt = 0; attempt < 10 && answer !== "ok"; attempt++) {
      answer = await status(port, 2_000).catch(() => "");
    }
    assertEquals(answer, "ok");
    const text = await metrics(port);
    assert(
      (metricValue(text, "llama_http_connections_accepted_total", { server: "metrics" }) ??
        0) > 0,
    );
  },
});

Deno.test("summaries nobody reads are written four at a time; the rest are told to retry", async () => {
  await using collector = await startCollectorProgram({ targets: 10_000 });
  // An interval with every path published.
  const deadline = performance.now() + 30_000;
  while (!/Interval .*: 10000 paths/.test(collector.stderr()) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const conns = await openConnections(collector.port, 50);
  try {
    for (const conn of conns) {
      await conn.write(encoder.encode("GET /api/v1/summaries HTTP/1.1\r\nHost: x\r\n\r\n"));
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assertEquals(await status(collector.port), "ok");
    const text = await metrics(collector.port);
    assert((metricValue(text, "llama_collector_api_streams", {}) ?? 0) <= 4, text);
    assert((metricValue(text, "llama_collector_api_streams_refused_total", {}) ?? 0) >= 40);
    assertEquals(metricValue(text, "llama_collector_probes_skipped_total", {}), 0);
  } finally {
    closeAll(conns);
  }
});
