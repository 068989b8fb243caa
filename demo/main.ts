/**
 * `deno task demo`: starts a reflector on loopback, sends it a few llama probes, and prints each
 * answer: round-trip time and the reflector's dwell time from the reflection block it filled in.
 *
 * @module
 */
import {
  DatagramBatch,
  decodeProbe,
  openDenoSocket,
  ProbeReader,
  ProbeWriter,
  reflectionDwellNs,
  setupLogging,
  systemClock,
  WallNanos,
} from "@llama/core";
import { startReflector } from "@llama/reflector";

const PROBES = 5;

await using _logging = await setupLogging({ level: "info" });
await using reflector = await startReflector({ hostname: "127.0.0.1", port: 0, maxPps: 0 });
await using socket = await openDenoSocket({ hostname: "127.0.0.1", port: 0 });

const writer = new ProbeWriter({ tos: 0 });
const wall = new WallNanos(systemClock);
const reader = new ProbeReader();
const batch = new DatagramBatch(1, 2048);
console.log(
  `Sending ${PROBES} probes of ${writer.bytes.length} bytes to the reflector on udp://127.0.0.1:${reflector.address.port}\n`,
);
for (let sequence = 0; sequence < PROBES; sequence++) {
  crypto.getRandomValues(writer.signature);
  const sentAt = systemClock.monotonic();
  wall.convert(sentAt);
  writer.setSent(wall.high, wall.low);
  writer.setSequence(sequence);
  batch.slots[0].set(writer.bytes);
  batch.lengths[0] = writer.bytes.length;
  batch.addresses[0] = reflector.address;
  await socket.send(batch, 1);
  await socket.receive(batch);
  const rttUs = (batch.receivedAt[0] - sentAt) * 1000;
  const answer = batch.slots[0].subarray(0, batch.lengths[0]);
  const probe = decodeProbe(answer);
  if (probe instanceof Error) throw probe;
  reader.read(answer);
  const dwellUs =
    reflectionDwellNs(new DataView(answer.buffer, answer.byteOffset), reader.reflectionOffset) /
    1000;
  console.log(
    `probe seq=${probe.sequence}  ${answer.length} bytes back  rtt ${rttUs.toFixed(1)} µs` +
      `  reflector dwell ${dwellUs.toFixed(1)} µs  network ${(rttUs - dwellUs).toFixed(1)} µs`,
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
}
const counters = reflector.counters();
console.log(`\nReflector counters: ${counters.received} received, ${counters.answered} answered.`);
