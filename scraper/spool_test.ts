import assert from "node:assert/strict";
import type { Point } from "@llama/plugins";
import { Spool } from "./spool.ts";

function points(from: number, count: number): Point[] {
  return Array.from({ length: count }, (_, index) => ({
    measurement: "m",
    tags: { host: `h${from + index}` },
    fields: { n: from + index },
    time: (from + index) * 1000,
  }));
}

Deno.test("a spool folder is used by one scraper at a time: a second open is refused, naming it", async () => {
  const directory = await Deno.makeTempDir();
  try {
    const first = await Spool.open(directory);
    await assert.rejects(Spool.open(directory), (error: Error) => {
      assert.match(error.message, /is in use by another scraper.*--data-dir/);
      assert.ok(error.message.includes(directory));
      return true;
    });
    await first[Symbol.asyncDispose]();
    await (await Spool.open(directory))[Symbol.asyncDispose]();
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("a spool keeps batches in order across opens, drops cut-short temporary files, and keeps a remainder in front", async () => {
  const directory = await Deno.makeTempDir();
  try {
    {
      await using spool = await Spool.open(directory);
      await spool.append(points(0, 3));
      await spool.append(points(3, 2));
      await spool.prepend(points(-2, 2));
    }
    // A write cut short by a crash, before its rename.
    await Deno.writeTextFile(`${directory}/5000000000000009-4.json.tmp`, "[{");
    await using spool = await Spool.open(directory);
    assert.deepEqual([spool.batches, spool.points], [3, 7]);
    assert.deepEqual((await spool.peek())!.map((point) => point.fields.n), [-2, -1]);
    await spool.shift();
    await spool.replaceFirst(points(2, 1)); // 0 and 1 were written
    assert.deepEqual((await spool.peek())!.map((point) => point.fields.n), [2]);
    await spool.shift();
    assert.deepEqual((await spool.peek())!.map((point) => point.fields.n), [3, 4]);
    assert.deepEqual([spool.batches, spool.points], [1, 2]);
    assert.ok(![...Deno.readDirSync(directory)].some((entry) => entry.name.endsWith(".tmp")));
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});
