// STAMP's loss split against the kernel: nftables drops probes in ONE direction inside a network
// namespace, and a stateful reference reflector's sequence numbers let the collector tell which.
// nft's counters are the reference.
import assert from "node:assert/strict";
import { createTestNetwork } from "./_netns.ts";
import { assertRequirement, requirement } from "./_requirements.ts";
import {
  stampYaml,
  startFileCollector,
  startReferenceReflector,
  summariesOf,
  totals,
} from "./_stamp.ts";

const needs = requirement({ root: true, commands: ["ip", "nft", "python3"] });
const PORT = 8862;

/** Packets the rule of `chain` has dropped, from `nft list table`. */
function dropped(listing: string, chain: "input" | "egress"): number {
  const block = listing.split(/chain /).find((part) => part.startsWith(chain)) ?? "";
  return [...block.matchAll(/counter packets (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

for (const direction of ["forward", "backward"] as const) {
  Deno.test({
    name: `collector splits STAMP loss dropped ${direction} by nft into lost${
      direction === "forward" ? "Forward" : "Backward"
    }, matching nft's counter`,
    ignore: needs.ignore,
    async fn() {
      assertRequirement(needs);
      await using network = await createTestNetwork();
      if (direction === "forward") {
        await network.dropInbound(10, { udpDestinationPort: PORT });
      } else await network.dropOutbound(10, { udpSourcePort: PORT });
      await using _reflector = await startReferenceReflector({
        host: network.remoteAddress,
        port: PORT,
        stateful: true,
        wrap: network.execPrefix,
      });
      const directory = await Deno.makeTempDir({ prefix: "llama-stamp-split-" });
      let summaries;
      let listing;
      try {
        // Only the test says protocol: stamp; the target is a plain one.
        const target = `{ip: "${network.remoteAddress}", port: ${PORT}}`;
        const yaml = stampYaml([target], {
          cps: 100,
          test: ", protocol: stamp, stamp_mode: stateful",
        });
        {
          await using running = await startFileCollector(directory, yaml);
          summaries = await summariesOf(running.summaries, 5);
        }
        listing = await network.nftCounters();
      } finally {
        await Deno.remove(directory, { recursive: true });
      }
      const { sent, lost, lostForward, lostBackward } = totals(summaries, network.remoteAddress);
      const droppedByNft = dropped(listing, direction === "forward" ? "input" : "egress");
      console.log(
        `${direction}: ${sent} sent, ${lost} lost (${lostForward} forward, ${lostBackward} ` +
          `backward), nft dropped ${droppedByNft}`,
      );
      assert.ok(sent >= 500, `sent ${sent}`);
      assert.equal(lostForward + lostBackward, lost);
      // nft also counted the drops of probes sent after the last summary's interval (the
      // collector ran on until it was closed): at most an interval's worth (2 × 100 probes/s at 10%).
      assert.ok(
        lost <= droppedByNft && droppedByNft - lost <= 60,
        `lost ${lost}, nft ${droppedByNft}`,
      );
      if (direction === "forward") {
        // No reply was lost: the reflector's sequence has no gap.
        assert.equal(lostBackward, 0);
      } else {
        // A gap shows in the interval of the reply after it: one at an interval's end may be
        // counted in the next interval (at most one a flow an interval boundary).
        assert.ok(lostForward <= 2 * summaries.length, `lostForward ${lostForward}`);
        assert.ok(lostBackward >= lost - 2 * summaries.length);
      }
    },
  });
}
