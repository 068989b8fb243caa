import assert from "node:assert/strict";
import { PackedInterval, PathIdentities } from "./packed_interval.ts";
import { Summarizer } from "./summarizer.ts";

/** Two paths of two flows: one answered (with a dwell, a duplicate, reordering), one silent. */
async function summary(start: number, tags: Record<string, string> = { dst_hostname: "a" }) {
  const summarizer = new Summarizer(10);
  summarizer.setSourceTags({ src_region: "west" });
  summarizer.sendTimestampSource = "kernel";
  const flows = [40001, 40002].flatMap((srcPort) => [
    summarizer.addFlow({
      srcIp: "10.0.0.1",
      srcPort,
      dstIp: "10.0.1.1",
      dstPort: 8100,
      tags,
      tos: 184,
    }),
    summarizer.addFlow({
      srcIp: "10.0.0.1",
      srcPort,
      dstIp: "10.0.1.2",
      dstPort: 8100,
      tags: { dst_hostname: "b" },
      tos: 0,
    }),
  ]);
  for (const flow of flows) for (let index = 0; index < 5; index++) summarizer.sent(flow, start);
  for (const flow of [flows[0], flows[2]]) {
    for (const [sequence, rtt] of [[0, 0.05], [2, 0.0731], [1, 123.456789], [3, 0.1]]) {
      summarizer.answered(flow, start, sequence, rtt, sequence !== 3);
    }
    summarizer.lost(flow, start);
    summarizer.stray(flow, start, "duplicate");
    summarizer.observeTos(flow, start, 184, 0);
  }
  for (const flow of [flows[1], flows[3]]) {
    for (let index = 0; index < 5; index++) summarizer.lost(flow, start);
  }
  return await summarizer.finish(start);
}

/** Rounds every number to 6 significant digits: what float32 keeps. */
function rounded(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value),
    (_, item) => typeof item === "number" ? Number(item.toPrecision(6)) : item,
  );
}

Deno.test("a packed interval unpacks to the summary it was packed from, times to float32 precision", async () => {
  const original = await summary(0);
  const packed = new PackedInterval(original, new PathIdentities());
  const unpacked = packed.unpack();
  assert.deepEqual(rounded(unpacked), rounded(original));
  // Same keys in the same order: the API's JSON does not change shape.
  assert.equal(
    JSON.stringify(unpacked).replace(/-?[\d.]+(e-?\d+)?/g, "0"),
    JSON.stringify(original).replace(/-?[\d.]+(e-?\d+)?/g, "0"),
  );
  const path = unpacked.paths[0];
  assert.equal(path.rtt!.min, 0.05, "short times come back exactly as decimals, not 0.0500000007");
  const max = path.flows[0].rtt!.max;
  assert.ok(Math.abs(max - 123.456789) < 1e-5, `long times keep ~7 digits: ${max}`);
  assert.equal(unpacked.paths[1].rtt, null);
  assert.equal(unpacked.paths[1].jitter, null);
  assert.deepEqual(unpacked.paths[0].tos, { sent: 184, atReflector: 184, onReturn: 0 });
  assert.deepEqual(unpacked.paths[1].tos, { sent: 0, atReflector: null, onReturn: null });
  assert.equal(unpacked.sendTimestampSource, "kernel");
});

Deno.test("packed intervals share a path's identity while its tags stay the same", async () => {
  const identities = new PathIdentities();
  const first = new PackedInterval(await summary(0), identities);
  const second = new PackedInterval(await summary(10_000), identities);
  assert.equal(first.identities[0], second.identities[0], "one object for both intervals");
  const retagged = new PackedInterval(
    await summary(20_000, { dst_hostname: "renamed" }),
    identities,
  );
  assert.notEqual(retagged.identities[0], second.identities[0]);
  assert.equal(retagged.unpack().paths[0].tags.dst_hostname, "renamed");
  assert.equal(second.unpack().paths[0].tags.dst_hostname, "a", "history keeps the old tags");
  identities.prune([retagged]);
  assert.equal(identities.of(first.unpack().paths[0]) === first.identities[0], false, "pruned");
});

Deno.test("a packed interval without its flows keeps every path's statistics", async () => {
  const original = await summary(0);
  const packed = new PackedInterval(original, new PathIdentities());
  packed.dropFlows();
  assert.equal(packed.hasFlows, false);
  const unpacked = packed.unpack();
  assert.deepEqual(
    rounded(unpacked.paths.map(({ flows: _, ...path }) => path)),
    rounded(original.paths.map(({ flows: _, ...path }) => path)),
  );
  assert.deepEqual(unpacked.paths.map((path) => path.flows), [[], []]);
});
