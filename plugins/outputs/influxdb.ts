import { HttpError, InfluxDB } from "@influxdata/influxdb-client";
import { PluginError } from "@llama/core";
import type { Output, OutputPlugin, Point } from "../contract.ts";
import { PLUGIN_CONTRACT_VERSION } from "../contract.ts";
import { OptionsReader } from "../options.ts";
import { lineProtocolBatchProblem, type Precision, toLineProtocol } from "../line_protocol.ts";

/** Options of the `influxdb` output. */
export type InfluxdbOptions =
  | {
    version: 1;
    url: URL;
    database: string;
    username: string | undefined;
    password: string | undefined;
    retentionPolicy: string | undefined;
    precision: Precision;
    createDatabase: boolean;
    timeoutMs: number;
  }
  | {
    version: 2;
    url: URL;
    org: string;
    bucket: string;
    token: string;
    precision: Precision;
    timeoutMs: number;
  };

/**
 * Writes to InfluxDB: the 1.x write API (`version: 1`, the default, what the original scraper
 * used: `/write?db=…&precision=s`), creating the database if it is missing, or the 2.x API
 * (`version: 2`: url, org, bucket, token) through the official client. Anything that speaks
 * either API (VictoriaMetrics, for one) works too.
 */
export const influxdbOutput: OutputPlugin<InfluxdbOptions> = {
  kind: "output",
  name: "influxdb",
  contract: PLUGIN_CONTRACT_VERSION,
  parseOptions(raw, path) {
    const options = new OptionsReader(raw, path, "influxdb");
    const version = options.number("version", { min: 1, max: 2, integer: true, fallback: 1 });
    const url = options.url("url", ["http:", "https:"], "http://127.0.0.1:8086")!;
    const precision = options.oneOf("precision", ["s", "ms"] as const, "s");
    const timeoutMs = options.number("timeout_ms", { min: 100, max: 600_000, fallback: 10_000 });
    let parsed: InfluxdbOptions;
    if (version === 1) {
      parsed = {
        version: 1,
        url,
        precision,
        timeoutMs,
        database: options.string("database", "llama")!,
        username: options.string("username"),
        password: options.string("password"),
        retentionPolicy: options.string("retention_policy"),
        createDatabase: options.boolean("create_database", true),
      };
    } else {
      parsed = {
        version: 2,
        url,
        precision,
        timeoutMs,
        org: options.required("org", "the organization to write to"),
        bucket: options.required("bucket", "the bucket to write to"),
        token: options.string("token", "")!,
      };
    }
    options.done();
    return parsed;
  },
  create(options, context) {
    return options.version === 1
      ? createV1(options, context.name)
      : createV2(options, context.name);
  },
};

function createV1(options: Extract<InfluxdbOptions, { version: 1 }>, name: string): Output {
  const write = new URL("write", withSlash(options.url));
  write.searchParams.set("db", options.database);
  write.searchParams.set("precision", options.precision);
  if (options.retentionPolicy !== undefined) write.searchParams.set("rp", options.retentionPolicy);
  const headers: Record<string, string> = { "content-type": "text/plain; charset=utf-8" };
  if (options.username !== undefined) {
    headers.authorization = `Basic ${btoa(`${options.username}:${options.password ?? ""}`)}`;
  }
  let databaseReady = !options.createDatabase;
  const createDatabase = async (signal: AbortSignal) => {
    const query = new URL("query", withSlash(options.url));
    query.searchParams.set("q", `CREATE DATABASE "${options.database.replace(/"/g, '\\"')}"`);
    const response = await request(name, query, { method: "POST", headers, signal });
    await expectOk(name, response, "CREATE DATABASE");
    databaseReady = true;
  };
  return {
    async write(points, signal) {
      refuseUnwritable(name, points);
      const body = toLineProtocol(points, options.precision);
      if (body === "") return;
      if (!databaseReady) await createDatabase(signal);
      let response = await request(name, write, { method: "POST", headers, body, signal });
      if (response.status === 404 && options.createDatabase) {
        // The database was dropped while we ran: make it again and write again. A server still
        // deleting the old one's shards can answer 404 for a moment after the CREATE: a few
        // tries, then the write is reported as one to retry later, not as refused for good.
        await response.body?.cancel();
        await createDatabase(signal);
        for (const pauseMs of RECREATED_PAUSES_MS) {
          response = await request(name, write, { method: "POST", headers, body, signal });
          if (response.status !== 404) break;
          await response.body?.cancel();
          await new Promise((resolve) => setTimeout(resolve, pauseMs));
        }
        if (response.status === 404) {
          throw new PluginError(
            name,
            `write answered HTTP 404 after CREATE DATABASE "${options.database}": will retry`,
            { retryable: true },
          );
        }
      }
      await expectOk(name, response, "write");
    },
  };
}

/** Pauses between writes to a database just made again that still answer 404. */
const RECREATED_PAUSES_MS = [50, 100, 200, 400];

function createV2(options: Extract<InfluxdbOptions, { version: 2 }>, name: string): Output {
  return {
    async write(points, hostSignal) {
      refuseUnwritable(name, points);
      const lines = toLineProtocol(points, options.precision);
      if (lines === "") return;
      const signal = AbortSignal.any([hostSignal, AbortSignal.timeout(options.timeoutMs)]);
      // Under Deno the client sends with fetch, which ignores its `timeout` option and which only
      // `transportOptions.signal` can stop; a client holds no connection, so one per call is cheap.
      const client = new InfluxDB({
        url: options.url.href.replace(/\/$/, ""),
        token: options.token,
        timeout: options.timeoutMs,
        transportOptions: { signal },
      });
      // The host batches and retries: the client sends each call's points once, as they are.
      const writer = client.getWriteApi(options.org, options.bucket, options.precision, {
        batchSize: points.length + 1,
        flushInterval: 0,
        maxRetries: 0,
        maxBufferLines: points.length + 1,
        // Hand failures back untouched: otherwise the client also logs each one to the console.
        writeFailed: (error) => Promise.reject(error),
      });
      writer.writeRecords(lines.split("\n"));
      try {
        await writer.close();
      } catch (error) {
        const status = error instanceof HttpError ? error.statusCode : undefined;
        const reason = signal.aborted ? "timed out" : (error as Error).message;
        throw new PluginError(name, `write to ${options.url.origin} failed: ${reason}`, {
          cause: error,
          retryable: status === undefined || retryableStatus(status),
        });
      }
    },
  };
}

async function request(name: string, url: URL, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    const reason = (init.signal as AbortSignal | undefined)?.aborted
      ? "timed out"
      : (error as Error).message;
    throw new PluginError(name, `${url.origin} unreachable: ${reason}`, { cause: error });
  }
}

async function expectOk(name: string, response: Response, what: string): Promise<void> {
  if (response.ok) {
    await response.body?.cancel();
    return;
  }
  const text = (await response.text()).slice(0, 300).trim();
  throw new PluginError(name, `${what} answered HTTP ${response.status}: ${text}`, {
    retryable: retryableStatus(response.status),
  });
}

/**
 * Only a refusal of the points themselves is final: a 400 (a line that does not parse, a field
 * type conflict, InfluxDB 1.x's "partial write"), a 413 (too many at once: the host splits the
 * batch) or a 422 (InfluxDB 2.x: outside the retention period). Anything else, a wrong password
 * (401, 403) or a missing database (404) included, is the server's state, not the points': they
 * wait and are written once it is fixed, rather than being set aside by the thousand.
 */
function retryableStatus(status: number): boolean {
  return status !== 400 && status !== 413 && status !== 422;
}

/**
 * Refuses, for good, a batch holding a point line protocol cannot carry (a line break, a control
 * character, a trailing backslash): sent, it would write something else, or make InfluxDB's
 * answer one the HTTP client cannot read. The host then finds that point and sets it aside.
 */
function refuseUnwritable(name: string, points: readonly Point[]): void {
  const problem = lineProtocolBatchProblem(points);
  if (problem !== undefined) {
    throw new PluginError(name, `cannot write ${problem}`, { retryable: false });
  }
}

function withSlash(url: URL): URL {
  return new URL(url.href.endsWith("/") ? url.href : `${url.href}/`);
}
