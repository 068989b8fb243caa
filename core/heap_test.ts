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

// In a process of its own: the test runner's worker threads allocate from arenas whose free top
// serves even large blocks without a mapping (glibc maps a block only when the top is too small),
// and the collector calls it first thing on its main thread.
const PROBE = `
import { capMallocMmapThreshold } from ${
  JSON.stringify(new URL("./heap.ts", import.meta.url).href)
};
const library = Deno.dlopen("libc.so.6", {
  mallinfo2: { parameters: [], result: { struct: Array(10).fill("usize") } },
});
// How many blocks malloc has mapped on their own (mallinfo2's hblks).
const mapped = () => {
  const info = library.symbols.mallinfo2();
  return Number(new BigUint64Array(info.buffer, info.byteOffset, 10)[3]);
};
const blocks = () => Array.from({ length: 32 }, () => new Uint8Array(48 * 1024));
const before = mapped();
const unmapped = blocks();
const between = mapped();
const took = capMallocMmapThreshold(32 * 1024);
const held = blocks();
console.log(JSON.stringify({ took, byDefault: between - before, withCap: mapped() - between }));
console.assert(unmapped.length + held.length === 64);
`;

Deno.test({
  name: "capMallocMmapThreshold gives blocks from that size up mappings of their own",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["eval", PROBE],
      stderr: "inherit",
    }).output();
    assert.equal(output.code, 0);
    const result = JSON.parse(new TextDecoder().decode(output.stdout));
    assert.equal(result.took, true);
    // 48 KiB blocks come from glibc's arenas by default (its threshold starts at 128 KiB).
    assert.ok(result.byDefault < 4, `without the cap, ${result.byDefault} of 32 blocks mapped`);
    // The first few may still fit in the top of the arena.
    assert.ok(result.withCap >= 24, `with the cap, ${result.withCap} of 32 blocks mapped`);
  },
});
