import assert from "node:assert/strict";
import { capMallocMmapThreshold, fullGarbageCollector } from "./heap.ts";

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

/** How many blocks glibc's malloc has mapped on their own (mallinfo2's hblks). */
function mappedBlocks(): number {
  const library = Deno.dlopen("libc.so.6", {
    mallinfo2: { parameters: [], result: { struct: Array(10).fill("usize") } },
  });
  try {
    const info = library.symbols.mallinfo2() as Uint8Array;
    return Number(new BigUint64Array(info.buffer, info.byteOffset, 10)[3]);
  } finally {
    library.close();
  }
}

Deno.test({
  name: "capMallocMmapThreshold gives blocks from that size up mappings of their own",
  ignore: Deno.build.os !== "linux",
  fn() {
    // 48 KiB blocks come from glibc's arenas by default (its threshold starts at 128 KiB).
    const blocks = () => Array.from({ length: 32 }, () => new Uint8Array(48 * 1024));
    const before = mappedBlocks();
    const unmapped = blocks();
    assert.ok(mappedBlocks() - before < 32, "without the cap, 48 KiB blocks are not all mapped");
    assert.equal(capMallocMmapThreshold(32 * 1024), true);
    const start = mappedBlocks();
    const mapped = blocks();
    const after = mappedBlocks();
    assert.ok(after - start >= 32, `mapped blocks ${start} -> ${after}`);
    assert.equal(unmapped.length + mapped.length, 64);
  },
});
