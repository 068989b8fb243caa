// The README's commands, run as a user runs them: through `deno task`, with the permissions the
// tasks grant (tests elsewhere run programs with -A, which would hide a missing permission).
import assert from "node:assert/strict";
import { ROOT } from "./_process.ts";

async function task(args: string[]): Promise<{ code: number; output: string }> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["task", ...args],
    cwd: ROOT,
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

Deno.test("deno task collector --check reads the original's configs with the task's permissions", async () => {
  for (const file of ["complex_example.yaml", "simple_example.yaml"]) {
    const { code, output } = await task([
      "collector",
      "--config",
      `tests/fixtures/original/original-configs/${file}`,
      "--check",
    ]);
    assert.equal(code, 0, output);
    assert.match(output, /is valid \((full|legacy) format, 3 targets\)/);
  }
});

Deno.test("deno task demo shows a healthy path at 0%, the silent target at 100%, then line protocol", async () => {
  const { code, output } = await task(["demo"]);
  assert.equal(code, 0, output);
  assert.match(output, /127\.0\.0\.1 → 127\.0\.0\.1 +localhost +sent +\d+ +loss +0\.0% +rtt p50/);
  assert.match(
    output,
    /127\.0\.0\.1 → 127\.0\.0\.3 +nobody-home +sent +\d+ +loss 100\.0% +no answers/,
  );
  assert.equal(output.match(/^Interval /gm)?.length, 3);
  // It ends with the scraper's line protocol for both paths, dated by the interval.
  assert.match(
    output,
    /^raw_stats,dst_hostname=localhost,dst_ip=127\.0\.0\.1,src_hostname=demo-collector,src_ip=127\.0\.0\.1 .*[ ,]loss=0,.* \d{10}$/m,
  );
  assert.match(
    output,
    /^raw_stats,dst_hostname=nobody-home,dst_ip=127\.0\.0\.3,.*[ ,]loss=100,lost=\d+,.* \d{10}$/m,
  );
});

Deno.test("deno task reflector runs the native engine with the permissions the task grants", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "reflector", "--host", "127.0.0.1", "--port", "0"],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let stderr = "";
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  try {
    while (!/Reflecting probes on/.test(stderr)) {
      const { value, done } = await reader.read();
      if (done) break;
      stderr += value;
    }
    const native = Deno.build.os === "linux";
    assert.match(stderr, native ? /\(native engine,/ : /\(deno engine,/, stderr);
  } finally {
    // deno task runs the program as a child: stop the whole group.
    child.kill("SIGTERM");
    await reader.cancel();
    await child.status;
  }
});
