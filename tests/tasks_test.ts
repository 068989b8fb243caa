// The README's commands, run as a user runs them: through `deno task`, with the permissions the
// tasks grant (tests elsewhere run programs with -A, which would hide a missing permission).
import assert from "node:assert/strict";
import { ROOT } from "./_process.ts";
import { freeUdpPort } from "./_udp.ts";

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

/** The reflector's log up to its "Reflecting probes on" line, run with `args`. */
async function reflectorStartLog(args: string[]): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...args, "--host", "127.0.0.1", "--port", "0"],
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
    return stderr;
  } finally {
    // deno task runs the program as a child: stop the whole group.
    try {
      child.kill("SIGTERM");
    } catch {
      // It ended on its own (a start error): stderr says why.
    }
    await reader.cancel();
    await child.status;
  }
}

Deno.test("deno task reflector runs the native engine on its own thread with the permissions the task grants", async () => {
  const stderr = await reflectorStartLog(["task", "reflector"]);
  const native = Deno.build.os === "linux";
  assert.match(stderr, native ? /\(native engine on its own thread,/ : /\(deno engine,/, stderr);
});

Deno.test("deno task reflector reads key files anywhere (--auth-key-file, --stamp-key-file)", async () => {
  const directory = await Deno.makeTempDir();
  try {
    const keys = `${directory}/probe-keys`;
    const secret = Array.from(crypto.getRandomValues(new Uint8Array(32)))
      .map((byte) => byte.toString(16).padStart(2, "0")).join("");
    await Deno.writeTextFile(keys, `k1 ${secret}\n`, { mode: 0o600 });
    const stderr = await reflectorStartLog([
      "task",
      "reflector",
      "--auth-key-file",
      keys,
      "--stamp-port",
      String(freeUdpPort()),
      "--stamp-key-file",
      keys,
    ]);
    assert.doesNotMatch(stderr, /cannot read|Requires read access/, stderr);
    assert.match(stderr, /Reflecting probes on/, stderr);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test(
  "a reflector whose receive thread cannot start (no read permission for it) says so and uses the event loop",
  {
    ignore: Deno.build.os !== "linux",
  },
  async () => {
    const stderr = await reflectorStartLog([
      "run",
      "--allow-ffi",
      "--allow-net",
      "reflector/main.ts",
    ]);
    assert.match(
      stderr,
      /Receiving on the event loop: the receive loop's own thread could not start: it needs read access to .*reflect_worker\.ts/,
    );
    assert.match(stderr, /\(native engine, max/, stderr);
  },
);

Deno.test("every compile task names files that exist: its entry point and what it --include-s (workers, plugins)", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))).tasks;
  for (const member of ["reflector", "collector", "scraper"]) {
    const words: string[] = tasks[`compile:${member}`].split(/\s+/);
    const entry = words.at(-1)!;
    const included = words.flatMap((word, index) => word === "--include" ? [words[index + 1]] : []);
    for (const path of [entry, ...included]) {
      const stat = await Deno.stat(new URL(path, ROOT)).catch(() => undefined);
      assert.ok(stat !== undefined, `deno.json compile:${member}: ${path} does not exist`);
    }
    if (member === "reflector") {
      assert.ok(
        included.includes("reflector/reflect_worker.ts"),
        "the reflector's Worker is embedded",
      );
    }
    // V8 flags are baked into the executable: V8 must know them, or it would refuse to start.
    for (const flag of words.filter((word) => word.startsWith("--v8-flags="))) {
      const { code, stderr } = await new Deno.Command(Deno.execPath(), {
        args: ["eval", flag, "0"],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(
        code,
        0,
        `deno.json compile:${member}: ${flag}: ${new TextDecoder().decode(stderr)}`,
      );
    }
  }
});
