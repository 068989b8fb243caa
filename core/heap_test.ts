import assert from "node:assert/strict";
import { fullGarbageCollector } from "./heap.ts";

Deno.test("fullGarbageCollector frees what nothing refers to any more", () => {
  const collect = fullGarbageCollector();
  assert.ok(collect !== undefined, "V8 lets a Deno process expose gc");
  let garbage: { index: number; text: string }[] | undefined = Array.from(
    { length: 500_000 },
    (_, index) => ({ index, text: `item ${index}` }),
  );
  const holding = Deno.memoryUsage().heapUsed;
  assert.equal(garbage.length, 500_000);
  garbage = undefined;
  collect();
  const after = Deno.memoryUsage().heapUsed;
  assert.ok(after < holding - 20 * 1024 * 1024, `heap ${holding} -> ${after} bytes`);
});
