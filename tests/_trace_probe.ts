// Run inside a network namespace by trace_netns_test.ts: sends one probe per TTL from one native
// socket to a closed port and prints, as JSON, the ICMP error each one brought back.
import { DatagramBatch, type IcmpErrorReport, openNativeSocket } from "@llama/core";

interface Hop {
  ttl: number;
  family: number;
  type: number;
  code: number;
  timeExceeded: boolean;
  unreachable: boolean;
  offender: string;
  destination: string;
  payload: string;
}

/** Sends `text` with each TTL of `ttls` to `target` from a socket bound to `local`. */
async function trace(local: string, target: { hostname: string; port: number }, ttls: number[]) {
  await using socket = await openNativeSocket({
    hostname: local,
    port: 0,
    receiveIcmpErrors: true,
  });
  const batch = new DatagramBatch(1, 64);
  const hops: Hop[] = [];
  for (const ttl of ttls) {
    const bytes = new TextEncoder().encode(`probe ttl ${ttl}`);
    batch.slots[0].set(bytes);
    batch.lengths[0] = bytes.length;
    batch.addresses[0] = target;
    batch.ttl[0] = ttl;
    if (socket.sendNow(batch, 1) !== 1) throw new Error(`probe with TTL ${ttl} was not sent`);
    let found: Hop | undefined;
    for (let attempt = 0; found === undefined && attempt < 200; attempt++) {
      socket.readErrorQueue(undefined, (report: IcmpErrorReport) => {
        found = {
          ttl,
          family: report.family,
          type: report.type,
          code: report.code,
          timeExceeded: report.timeExceeded,
          unreachable: report.unreachable,
          offender: report.offender,
          destination: `${report.destination.hostname}:${report.destination.port}`,
          payload: new TextDecoder().decode(report.payload),
        };
      });
      if (found === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (found === undefined) throw new Error(`no ICMP error for the probe with TTL ${ttl}`);
    hops.push(found);
  }
  return hops;
}

const [local, hostname, port] = Deno.args;
console.log(JSON.stringify(await trace(local, { hostname, port: Number(port) }, [1, 2])));
