import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError, PluginError } from "@llama/core";
import type { Output, Point } from "../contract.ts";
import { recordLogs, renderRecord, testContext } from "../_test_util.ts";
import { csvLine, csvOutput } from "./csv.ts";

const TIME = Date.UTC(2025, 10, 25, 17, 0, 0);
const ISO = "2025-11-25T17:00:00.000Z";
const signal = new AbortController().signal;

/** Creates a csv output writing to `out.csv` in a temp folder; `raw` are its options. */
async function csvIn(
  folder: string,
  raw: Record<string, unknown> = {},
): Promise<Output & AsyncDisposable> {
  const options = csvOutput.parseOptions({ file: "out.csv", ...raw }, "outputs[0].options");
  const output = await csvOutput.create(options, testContext("csv", { configDirectory: folder }));
  assert.equal(typeof output[Symbol.asyncDispose], "function", "csv must close its file");
  return output as Output & AsyncDisposable;
}

async function tempFolder(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "llama_csv_" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

const point = (tags: Record<string, string>, fields: Record<string, number>): Point => ({
  measurement: "raw_stats",
  tags,
  fields,
  time: TIME,
});

Deno.test("csv writes the header once, then time, measurement, sorted tags, sorted fields", async () => {
  await using folder = await tempFolder();
  {
    await using output = await csvIn(folder.path);
    await output.write([
      point({ src_ip: "10.0.0.1", dst_ip: "10.0.0.2" }, { sent: 100, loss: 0, rtt: 0.5 }),
      point({ src_ip: "10.0.0.1", dst_ip: "10.0.0.3", dst_hostname: "db-1" }, { sent: 100 }),
    ], signal);
    await output.write([], signal);
    await output.write([point({ dst_ip: "10.0.0.4" }, { loss: 100 })], signal);
  }
  assert.equal(
    await Deno.readTextFile(join(folder.path, "out.csv")),
    "time,measurement,dst_hostname,dst_ip,src_ip,loss,rtt,sent\r\n" +
      `${ISO},raw_stats,,10.0.0.2,10.0.0.1,0,0.5,100\r\n` +
      `${ISO},raw_stats,db-1,10.0.0.3,10.0.0.1,,,100\r\n` +
      `${ISO},raw_stats,,10.0.0.4,,100,,\r\n`,
  );
});

Deno.test("csv takes its tag and field columns, in order, from the options", async () => {
  await using folder = await tempFolder();
  await using _logs = await recordLogs();
  {
    await using output = await csvIn(folder.path, { tags: "src_ip, dst_ip", fields: "sent,loss" });
    await output.write([point({ dst_ip: "b", src_ip: "a" }, { loss: 1, sent: 2 })], signal);
  }
  assert.equal(
    await Deno.readTextFile(join(folder.path, "out.csv")),
    "time,measurement,src_ip,dst_ip,sent,loss\r\n" + `${ISO},raw_stats,a,b,2,1\r\n`,
  );
});

Deno.test("csv quotes values holding a comma, a quote or a line break (RFC 4180)", async () => {
  await using folder = await tempFolder();
  {
    await using output = await csvIn(folder.path);
    await output.write([
      point({ name: 'rack 4, "west"' }, { sent: 1 }),
      point({ name: "two\r\nlines" }, { sent: 2 }),
      point({ name: "just\nLF" }, { sent: 3 }),
      point({ name: "plain" }, { sent: 4 }),
    ], signal);
  }
  assert.equal(
    await Deno.readTextFile(join(folder.path, "out.csv")),
    "time,measurement,name,sent\r\n" +
      `${ISO},raw_stats,"rack 4, ""west""",1\r\n` +
      `${ISO},raw_stats,"two\r\nlines",2\r\n` +
      `${ISO},raw_stats,"just\nLF",3\r\n` +
      `${ISO},raw_stats,plain,4\r\n`,
  );
  assert.equal(csvLine(["a", "b,c", 'd"e', ""]), 'a,"b,c","d""e",\r\n');
});

Deno.test("csv appends to an existing file without a second header, keeping its columns", async () => {
  await using folder = await tempFolder();
  {
    await using output = await csvIn(folder.path);
    await output.write([point({ src_ip: "a", dst_ip: "b" }, { sent: 1, loss: 0 })], signal);
  }
  {
    // A restart: the new first batch would sort differently and has a tag the file lacks.
    await using _logs = await recordLogs();
    await using output = await csvIn(folder.path);
    await output.write([point({ zone: "z", dst_ip: "d", src_ip: "c" }, { sent: 2 })], signal);
  }
  assert.equal(
    await Deno.readTextFile(join(folder.path, "out.csv")),
    "time,measurement,dst_ip,src_ip,loss,sent\r\n" +
      `${ISO},raw_stats,b,a,0,1\r\n` +
      `${ISO},raw_stats,d,c,,2\r\n`,
  );
});

Deno.test("csv reads back a header with quoted column names", async () => {
  await using folder = await tempFolder();
  {
    await using output = await csvIn(folder.path);
    await output.write([point({ "odd,name": "x", 'say "hi"': "y" }, { sent: 1 })], signal);
  }
  {
    await using output = await csvIn(folder.path);
    await output.write([point({ "odd,name": "x2", 'say "hi"': "y2" }, { sent: 2 })], signal);
  }
  assert.equal(
    await Deno.readTextFile(join(folder.path, "out.csv")),
    'time,measurement,"odd,name","say ""hi""",sent\r\n' +
      `${ISO},raw_stats,x,y,1\r\n` +
      `${ISO},raw_stats,x2,y2,2\r\n`,
  );
});

Deno.test("csv writes a header to an existing empty file", async () => {
  await using folder = await tempFolder();
  await Deno.writeTextFile(join(folder.path, "out.csv"), "");
  {
    await using output = await csvIn(folder.path);
    await output.write([point({ a: "1" }, { sent: 1 })], signal);
  }
  assert.equal(
    await Deno.readTextFile(join(folder.path, "out.csv")),
    `time,measurement,a,sent\r\n${ISO},raw_stats,1,1\r\n`,
  );
});

Deno.test("csv leaves out a tag the header lacks, warning once per column", async () => {
  await using folder = await tempFolder();
  await using logs = await recordLogs();
  {
    await using output = await csvIn(folder.path, { tags: "dst_ip" });
    await output.write([point({ dst_ip: "a", zone: "z1" }, { sent: 1 })], signal);
    await output.write([point({ dst_ip: "b", zone: "z2" }, { sent: 2 })], signal);
    await output.write([point({ dst_ip: "c", zone: "z3", rack: "r" }, { sent: 3 })], signal);
  }
  assert.equal(
    await Deno.readTextFile(join(folder.path, "out.csv")),
    "time,measurement,dst_ip,sent\r\n" +
      `${ISO},raw_stats,a,1\r\n${ISO},raw_stats,b,2\r\n${ISO},raw_stats,c,3\r\n`,
  );
  const warnings = logs.filter((record) => record.level === "warning");
  assert.deepEqual(warnings.map(renderRecord), [
    "Column zone is not in the CSV header; it is left out",
    "Column rack is not in the CSV header; it is left out",
  ]);
  assert.deepEqual(warnings[0].category, ["llama", "plugin", "csv"]);
});

Deno.test("csv checks its options", () => {
  assert.deepEqual(csvOutput.parseOptions(undefined, "outputs[0].options"), {
    file: "-",
    tags: undefined,
    fields: undefined,
  });
  assert.throws(
    () => csvOutput.parseOptions({ file: "a.csv", colums: "x" }, "outputs[3].options"),
    (error: unknown) =>
      error instanceof ConfigError && error.path === "outputs[3].options.colums" &&
      error.message.includes('csv: unknown option "colums"; known: file, tags, fields'),
  );
  assert.throws(
    () => csvOutput.parseOptions({ tags: { a: 1 } }, "outputs[3].options"),
    /outputs\[3\]\.options\.tags: csv: expected a list, or text separated by commas, got a map/,
  );
  assert.deepEqual(
    csvOutput.parseOptions({ tags: ["src_ip", "dst_ip"], fields: "loss, rtt" }, "outputs[0]"),
    { file: "-", tags: ["src_ip", "dst_ip"], fields: ["loss", "rtt"] },
  );
});

Deno.test("csv leaves columns named like Object.prototype members empty when points lack them", async () => {
  await using folder = await tempFolder();
  await using _logs = await recordLogs();
  {
    await using output = await csvIn(folder.path, {
      tags: "constructor, src_ip",
      fields: "toString,sent",
    });
    await output.write([point({ src_ip: "a" }, { sent: 2 })], signal);
  }
  assert.equal(
    await Deno.readTextFile(join(folder.path, "out.csv")),
    "time,measurement,constructor,src_ip,toString,sent\r\n" + `${ISO},raw_stats,,a,,2\r\n`,
  );
});

Deno.test("csv writes formula-like tags as quoted text, negative numbers as numbers, and refuses NUL and empty names before writing", async () => {
  await using folder = await tempFolder();
  await using output = await csvIn(folder.path);
  await output.write([point({ a: "=1+1", b: "-x", c: "ok" }, { n: -1.5 })], signal);
  for (const bad of [{ a: "x\u0000" }, { "": "x" }] as Record<string, string>[]) {
    await assert.rejects(
      output.write([point({ c: "fine" }, { n: 1 }), point(bad, { n: 2 })], signal),
      (error) => {
        assert.ok(error instanceof PluginError && !error.retryable);
        assert.match(error.message, /^csv: cannot write the point "raw_stats" at /);
        return true;
      },
    );
  }
  assert.equal(
    await Deno.readTextFile(join(folder.path, "out.csv")),
    `time,measurement,a,b,c,n\r\n${ISO},raw_stats,"'=1+1","'-x",ok,-1.5\r\n`,
    "a refused batch leaves nothing behind",
  );
});
