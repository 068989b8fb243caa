import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { PluginError } from "@llama/core";
import type { Output, Point } from "@llama/plugins";
import { OutputHost, type OutputHostSettings } from "./output_host.ts";
import { DEAD_LETTER_FILE, DEAD_LETTER_MAX_BYTES, Spool } from "./spool.ts";

const log = getLogger(["llama", "test"]);
const settings: OutputHostSettings = {
  memoryPoints: 4,
  batchPoints: 3,
  retry: { initialMs: 5, maxMs: 20 },
  writeTimeoutMs: 1000,
};

function points(from: number, count: number): Point[] {
  return Array.from({ length: count }, (_, index) => ({
    measurement: "m",
    tags: {},
    fields: { n: from + index },
    time: (from + index) * 1000,
  }));
}

/** An output that fails while `down` is set, and records what it stored. */
function flakyOutput() {
  const stored: number[] = [];
  const state = { down: true, refused: new Set<number>() };
  const output: Output = {
    write(batch) {
      // Like a database that refuses a whole batch for one bad line.
      const bad = batch.find((point) => state.refused.has(point.fields.n));
      if (bad !== undefined) {
        return Promise.reject(
          new PluginError("flaky", `HTTP 400: bad ${bad.fields.n}`, { retryable: false }),
        );
      }
      if (state.down) return Promise.reject(new PluginError("flaky", "unreachable"));
      stored.push(...batch.map((point) => point.fields.n));
      return Promise.resolve();
    },
  };
  return { output, stored, state };
}

Deno.test("output host writes everything in order after an outage, through memory and disk", async () => {
  const directory = await Deno.makeTempDir();
  let host: OutputHost | undefined;
  try {
    const { output, stored, state } = flakyOutput();
    host = new OutputHost("flaky", output, settings, await Spool.open(directory), log);
    for (let batch = 0; batch < 10; batch++) host.enqueue(points(batch * 5, 5));
    // Spilling to disk takes a few writes: wait for them rather than for a fixed time.
    for (let waited = 0; host.counters.queued < 50 && waited < 10_000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(host.counters.spooled > 0, "past memory_points, points went to disk");
    assert.equal(host.counters.queued, 50);
    state.down = false;
    // Generous: on a loaded machine the retries' backoff alone takes seconds.
    assert.ok(await host.drained(30_000), "drained");
    await host.close();
    assert.deepEqual(stored, Array.from({ length: 50 }, (_, index) => index));
    assert.equal(host.counters.written, 50);
    assert.ok(host.counters.failures > 0);
  } finally {
    // A failed assertion leaves the host writing to its spool: stop it before removing it.
    await host?.close();
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("output host keeps unwritten points on disk at close, and a new host sends them first", async () => {
  const directory = await Deno.makeTempDir();
  try {
    const first = flakyOutput();
    const host = new OutputHost("flaky", first.output, settings, await Spool.open(directory), log);
    host.enqueue(points(0, 3)); // fits in memory
    host.enqueue(points(3, 3)); // spills
    await new Promise((resolve) => setTimeout(resolve, 30));
    await host.close();
    assert.equal(first.stored.length, 0);

    const second = flakyOutput();
    second.state.down = false;
    const again = new OutputHost(
      "flaky",
      second.output,
      settings,
      await Spool.open(directory),
      log,
    );
    again.enqueue(points(6, 2));
    assert.ok(await again.drained(5000));
    await again.close();
    assert.deepEqual(second.stored, [0, 1, 2, 3, 4, 5, 6, 7]);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("output host sets aside only the points refused for good, in the dead-letter file, and writes the rest", async () => {
  const directory = await Deno.makeTempDir();
  try {
    const { output, stored, state } = flakyOutput();
    state.down = false;
    state.refused = new Set([1, 6]);
    const spool = await Spool.open(directory);
    const host = new OutputHost("flaky", output, { ...settings, batchPoints: 8 }, spool, log);
    await host.enqueue(points(0, 8));
    await host.enqueue(points(8, 2));
    assert.ok(await host.drained(5000));
    await host.close();
    assert.deepEqual(stored, [0, 2, 3, 4, 5, 7, 8, 9]);
    assert.equal(host.counters.rejected, 2);
    assert.equal(host.counters.written, 8);
    const letters = (await Deno.readTextFile(`${directory}/dead-letter.jsonl`)).trim().split("\n")
      .map((line) => JSON.parse(line));
    assert.deepEqual(letters.map((letter) => letter.point.fields.n), [1, 6]);
    assert.deepEqual(letters.map((letter) => letter.reason), [
      "flaky: HTTP 400: bad 1",
      "flaky: HTTP 400: bad 6",
    ]);
    assert.equal(letters[0].output, "flaky");
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("output host without a data directory drops the oldest points past its memory, and counts them", async () => {
  const { output, stored, state } = flakyOutput();
  const host = new OutputHost("flaky", output, settings, undefined, log);
  for (let batch = 0; batch < 4; batch++) host.enqueue(points(batch * 2, 2));
  assert.equal(host.counters.dropped, 4);
  state.down = false;
  assert.ok(await host.drained(5000));
  await host.close();
  assert.deepEqual(stored, [4, 5, 6, 7]);
});

/** An output that takes `delayMs` per write (giving up when the host aborts it), and records what it stored. */
function slowOutput(delayMs: number) {
  const stored: number[] = [];
  const output: Output = {
    write(batch, signal) {
      return new Promise((resolve, reject) => {
        // As fetch does: a write begun with an aborted signal fails at once.
        if (signal.aborted) return reject(signal.reason);
        const timer = setTimeout(() => {
          stored.push(...batch.map((point) => point.fields.n));
          resolve();
        }, delayMs);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(signal.reason);
        }, { once: true });
      });
    },
  };
  return { output, stored };
}

Deno.test("output host behind a slow output never drops the batch it is writing: written + dropped = enqueued", async () => {
  const { output, stored } = slowOutput(5);
  const host = new OutputHost(
    "slow",
    output,
    { ...settings, memoryPoints: 100_000, batchPoints: 5000 },
    undefined,
    log,
  );
  const batches = 20, size = 10_000;
  for (let batch = 0; batch < batches; batch++) {
    host.enqueue(points(batch * size, size));
    // Let the writer take a batch now and then, so drops happen while a write is under way.
    if (batch % 3 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
  }
  assert.ok(await host.drained(10_000), `still queued: ${host.counters.queued}`);
  await host.close();
  assert.ok(host.counters.dropped > 0, "memory_points was exceeded, so some points were dropped");
  assert.equal(host.counters.written + host.counters.dropped, batches * size);
  assert.equal(stored.length, host.counters.written);
  assert.equal(host.counters.queued, 0);
  for (let index = 1; index < stored.length; index++) {
    assert.ok(
      stored[index] > stored[index - 1],
      `written in order, once: ${stored[index]} at ${index}`,
    );
  }
});

Deno.test("output host closed during a write keeps that batch in the spool", async () => {
  const directory = await Deno.makeTempDir();
  try {
    const { output, stored } = slowOutput(60_000);
    const host = new OutputHost("slow", output, settings, await Spool.open(directory), log);
    host.enqueue(points(0, 3));
    await new Promise((resolve) => setTimeout(resolve, 20)); // the write is under way
    await host.close();
    assert.deepEqual(stored, []);

    const again = flakyOutput();
    again.state.down = false;
    const next = new OutputHost("flaky", again.output, settings, await Spool.open(directory), log);
    assert.ok(await next.drained(5000));
    await next.close();
    assert.deepEqual(again.stored, [0, 1, 2]);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("output host stops keeping refused points once the dead-letter file is full, and counts them", async () => {
  const directory = await Deno.makeTempDir();
  try {
    // A sparse file just under the limit: no 256 MiB written.
    await Deno.writeTextFile(`${directory}/${DEAD_LETTER_FILE}`, "");
    await Deno.truncate(`${directory}/${DEAD_LETTER_FILE}`, DEAD_LETTER_MAX_BYTES - 10);
    const { output, stored, state } = flakyOutput();
    state.down = false;
    state.refused = new Set([1]);
    const host = new OutputHost("flaky", output, settings, await Spool.open(directory), log);
    await host.enqueue(points(0, 3));
    assert.ok(await host.drained(5000));
    await host.close();
    assert.deepEqual(stored, [0, 2]);
    assert.deepEqual([host.counters.rejected, host.counters.unkept], [1, 1]);
    assert.equal(
      (await Deno.stat(`${directory}/${DEAD_LETTER_FILE}`)).size,
      DEAD_LETTER_MAX_BYTES - 10,
    );
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("output host stops writing to a closed destination at once, and keeps what waits on disk", async () => {
  const directory = await Deno.makeTempDir();
  try {
    let writes = 0;
    const output: Output = {
      write() {
        writes++;
        return Promise.reject(
          new PluginError("stdout", "the reader closed it (broken pipe)", { closed: true }),
        );
      },
    };
    const host = new OutputHost("stdout", output, settings, await Spool.open(directory), log);
    try {
      await host.enqueue(points(0, 2));
      const error = await host.destinationClosed;
      assert.equal(error.closed, true);
      assert.equal(error.retryable, false);
      await host.enqueue(points(2, 2));
      assert.equal(await host.drained(1000), true, "nothing more can be written: drained");
      assert.equal(writes, 1, "neither retried nor split in halves");
      assert.equal(host.counters.rejected, 0, "not set aside as refused");
      assert.equal(host.counters.queued, 4, "what waits is kept");
    } finally {
      await host.close();
    }
    // The next start finds the four points still in the data directory.
    const spool = await Spool.open(directory);
    assert.equal(spool.points, 4);
    await spool[Symbol.asyncDispose]();
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});
