import assert from "node:assert/strict";
import { ConfigError } from "@llama/core";
import type { Point } from "../contract.ts";
import { stdoutOutput, toJsonLines } from "./stdout.ts";

const ROOT = new URL("../../", import.meta.url);
const TIME = Date.UTC(2025, 10, 25, 17, 0, 0, 250);

/**
 * Runs a `deno eval` child at the repository's root that creates one stdout output per entry of
 * `options` and writes `batches` (given on its standard input) to each; returns what it printed.
 */
async function runWriter(
  options: Record<string, unknown>[],
  batches: Point[][],
): Promise<{ stdout: string; stderr: string }> {
  const module = new URL("plugins/outputs/stdout.ts", ROOT).href;
  const code = `
    import { stdoutOutput } from ${JSON.stringify(module)};
    const { options, batches } = await new Response(Deno.stdin.readable).json();
    for (const raw of options) {
      const output = await stdoutOutput.create(
        stdoutOutput.parseOptions(raw, "outputs[0].options"),
        {} as never,
      );
      for (const batch of batches) await output.write(batch, new AbortController().signal);
      console.error("wrote", raw);
    }
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", "--ext=ts", code],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const input = child.stdin.getWriter();
  await input.write(new TextEncoder().encode(JSON.stringify({ options, batches })));
  await input.close();
  const { code: exitCode, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  const result = { stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  assert.equal(exitCode, 0, `the script failed:\n${result.stderr}`);
  return result;
}

const points: Point[] = [
  {
    measurement: "raw_stats",
    tags: { src_ip: "10.0.0.1", dst_ip: "10.0.0.2" },
    fields: { sent: 100, loss: 0, rtt: 0.134507 },
    time: TIME,
  },
  {
    measurement: "raw_stats",
    tags: { src_ip: "10.0.0.1", dst_ip: "10.0.0.3", dst_hostname: "db 1" },
    fields: { sent: 100, loss: 100, lost: 100 },
    time: TIME,
  },
];

Deno.test("stdout writes line protocol to standard output and nothing else", async () => {
  const { stdout, stderr } = await runWriter([{}], [points, [], points.slice(1)]);
  assert.equal(
    stdout,
    "raw_stats,dst_ip=10.0.0.2,src_ip=10.0.0.1 loss=0,rtt=0.134507,sent=100 1764090000\n" +
      "raw_stats,dst_hostname=db\\ 1,dst_ip=10.0.0.3,src_ip=10.0.0.1 loss=100,lost=100,sent=100 1764090000\n" +
      "raw_stats,dst_hostname=db\\ 1,dst_ip=10.0.0.3,src_ip=10.0.0.1 loss=100,lost=100,sent=100 1764090000\n",
  );
  assert.match(stderr, /wrote/);
});

Deno.test("stdout writes millisecond timestamps with precision: ms", async () => {
  const { stdout } = await runWriter([{ precision: "ms" }], [points.slice(0, 1)]);
  assert.equal(
    stdout,
    "raw_stats,dst_ip=10.0.0.2,src_ip=10.0.0.1 loss=0,rtt=0.134507,sent=100 1764090000250\n",
  );
});

Deno.test("stdout writes one JSON object per point with format: json", async () => {
  const { stdout } = await runWriter([{ format: "json" }], [points]);
  assert.equal(
    stdout,
    '{"measurement":"raw_stats","tags":{"src_ip":"10.0.0.1","dst_ip":"10.0.0.2"},' +
      '"fields":{"sent":100,"loss":0,"rtt":0.134507},"time":"2025-11-25T17:00:00.250Z"}\n' +
      '{"measurement":"raw_stats","tags":{"src_ip":"10.0.0.1","dst_ip":"10.0.0.3","dst_hostname":"db 1"},' +
      '"fields":{"sent":100,"loss":100,"lost":100},"time":"2025-11-25T17:00:00.250Z"}\n',
  );
  assert.equal(stdout, toJsonLines(points) + "\n");
});

Deno.test("stdout writes both formats from one process in the order written", async () => {
  const { stdout } = await runWriter([{ format: "line" }, { format: "json" }], [
    points.slice(0, 1),
  ]);
  const lines = stdout.split("\n");
  assert.equal(lines.length, 3);
  assert.ok(lines[0].startsWith("raw_stats,dst_ip=10.0.0.2"));
  assert.deepEqual(JSON.parse(lines[1]).tags, points[0].tags);
  assert.equal(lines[2], "");
});

Deno.test("stdout writes a batch larger than a pipe's buffer completely", async () => {
  const many: Point[] = Array.from({ length: 5000 }, (_, index) => ({
    measurement: "raw_stats",
    tags: { src_ip: "10.0.0.1", dst_ip: `10.0.${index >> 8}.${index & 255}` },
    fields: { sent: index },
    time: TIME,
  }));
  const { stdout } = await runWriter([{}], [many]);
  const lines = stdout.split("\n");
  assert.equal(lines.length, 5001);
  assert.equal(lines[4999], "raw_stats,dst_ip=10.0.19.135,src_ip=10.0.0.1 sent=4999 1764090000");
  assert.equal(lines[5000], "");
});

Deno.test("stdout refuses unknown formats and options", () => {
  assert.throws(
    () => stdoutOutput.parseOptions({ format: "xml" }, "outputs[2].options"),
    (error: unknown) =>
      error instanceof ConfigError && error.path === "outputs[2].options.format" &&
      error.message.includes("stdout: expected one of line, json"),
  );
  assert.throws(
    () => stdoutOutput.parseOptions({ formats: "json" }, "outputs[2].options"),
    /unknown option "formats"; known: format, precision/,
  );
  assert.deepEqual(stdoutOutput.parseOptions(undefined, "outputs"), {
    format: "line",
    precision: "s",
  });
});
