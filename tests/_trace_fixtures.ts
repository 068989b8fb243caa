// A traced fleet for the UI's trace tests: one collector (10.0.0.1) behind a gateway, two ECMP
// routers and a core router. The link from router B to the core loses 30%, so the flows that
// hash onto B lose and those on A do not; past the core, the database host does not answer.
import type { FlowTrace, SuspectsResponse, TraceHop, TracesResponse } from "../core/trace.ts";
import type { FlowLike, IntervalLike, PathLike } from "@llama/ui";

/** The addresses of the example network. */
export const NET = {
  source: "10.0.0.1",
  gateway: "10.0.0.254",
  routerA: "10.1.1.1",
  routerB: "10.1.2.1",
  core: "10.2.0.1",
  web1: "10.9.0.2",
  web2: "10.9.0.3",
  db: "10.9.0.4",
} as const;

/** Each target: its tags and, per source port, the router its flow hashes onto. */
const TARGETS = [
  { ip: NET.web1, host: "web-1", region: "east", blackHoled: false },
  { ip: NET.web2, host: "web-2", region: "east", blackHoled: false },
  { ip: NET.db, host: "db-1", region: "west", blackHoled: true },
];
/** Source ports of the four flows of every path; even ones hash onto router B. */
export const SOURCE_PORTS = [33001, 33002, 33003, 33004];
const DST_PORT = 8100;
const STARTED = Date.parse("2026-01-01T12:00:00Z");

function viaB(srcPort: number): boolean {
  return srcPort % 2 === 0;
}

/** The flow's loss: 30% on router B's link, 100% towards the black-holed host, else none. */
export function flowLoss(target: string, srcPort: number): number {
  if (TARGETS.find((one) => one.ip === target)!.blackHoled) return 100;
  return viaB(srcPort) ? 30 : 0;
}

function hop(ttl: number, address: string | null, lossPercent: number, rtt: number): TraceHop {
  const sent = 10;
  const received = sent - Math.round(sent * lossPercent / 100);
  return {
    ttl,
    address,
    addresses: address === null ? [] : [{ address, replies: received }],
    sent,
    received,
    lossPercent,
    rtt: address === null ? null : rtt,
    kind: address === null ? "silent" : "time-exceeded",
  };
}

/** The trace of one flow; the black-holed host's end in two silent hops. */
export function flowTrace(target: string, srcPort: number): FlowTrace {
  const loss = flowLoss(target, srcPort);
  const router = viaB(srcPort) ? NET.routerB : NET.routerA;
  const onLink = viaB(srcPort) ? 30 : 0;
  const hops = [
    hop(1, NET.gateway, 0, 0.31),
    hop(2, router, 0, 0.84),
    hop(3, NET.core, onLink, 1.9),
  ];
  const reached = loss < 100;
  if (reached) {
    hops.push({ ...hop(4, target, onLink, 2.46), kind: "destination" });
  } else {
    hops.push(hop(4, null, 100, 0), hop(5, null, 100, 0));
  }
  // One flow moved from router A to B mid-trace: two addresses answered its second hop.
  const moved = target === NET.web1 && srcPort === 33004;
  if (moved) {
    hops[1] = {
      ...hops[1],
      addresses: [{ address: NET.routerB, replies: 7 }, { address: NET.routerA, replies: 3 }],
    };
  }
  const started = STARTED + SOURCE_PORTS.indexOf(srcPort) * 1000;
  return {
    target,
    source: NET.source,
    srcPort,
    dstPort: DST_PORT,
    tos: 0,
    reason: loss > 0 ? "loss" : "baseline",
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(started + 1200).toISOString(),
    reachedTarget: reached,
    hops,
    flowLossPercent: loss,
    pathChanged: moved,
    reverseHops: reached ? 4 : null,
  };
}

/** Every flow's trace. */
export function tracesResponse(): TracesResponse {
  return {
    tracing: { available: true },
    traces: TARGETS.flatMap((target) =>
      SOURCE_PORTS.map((srcPort) => flowTrace(target.ip, srcPort))
    ),
  };
}

function example(target: string, srcPort: number): string {
  return `${NET.source}:${srcPort}>${target}:${DST_PORT}`;
}

/**
 * The suspects of the example, as the contract orders them (highest score first) unless
 * `shuffled`: then lowest first, to check the page orders them itself.
 */
export function suspectsResponse(shuffled = false): SuspectsResponse {
  const onB = [NET.web1, NET.web2].flatMap((target) =>
    [33002, 33004].map((port) => example(target, port))
  );
  const toDb = SOURCE_PORTS.map((port) => example(NET.db, port));
  const suspects = [
    {
      from: NET.routerB,
      to: NET.core,
      score: 0.92,
      lossyFlows: 4,
      cleanFlows: 0,
      onsetFlows: 4,
      examples: onB,
    },
    {
      from: NET.core,
      to: null,
      score: 0.61,
      lossyFlows: 4,
      cleanFlows: 0,
      onsetFlows: 4,
      examples: toDb,
    },
    {
      from: NET.gateway,
      to: NET.routerB,
      score: 0.35,
      lossyFlows: 6,
      cleanFlows: 2,
      onsetFlows: 0,
      examples: [...onB, ...toDb.slice(0, 2)],
    },
    {
      from: NET.source,
      to: NET.gateway,
      score: 0.1,
      lossyFlows: 8,
      cleanFlows: 4,
      onsetFlows: 0,
      examples: [...onB, ...toDb],
    },
  ];
  return { suspects: shuffled ? suspects.reverse() : suspects, lossyFlows: 8, cleanFlows: 4 };
}

/** The interval the matrix draws: one path per target, its four flows' losses as traced. */
export function tracedInterval(): IntervalLike {
  const paths = TARGETS.map((target): PathLike => {
    const flows = SOURCE_PORTS.map((srcPort): FlowLike => {
      const lost = flowLoss(target.ip, srcPort) / 100 * 30;
      return {
        srcPort,
        dstPort: DST_PORT,
        sent: 30,
        lost,
        lossPercent: lost / 30 * 100,
        rtt: lost === 30 ? null : { p50: 2.4, p99: 3.1 },
      };
    });
    const sent = 120;
    const lost = flows.reduce((sum, flow) => sum + flow.lost, 0);
    return {
      srcIp: NET.source,
      dstIp: target.ip,
      tags: { src_region: "lab", dst_hostname: target.host, dst_region: target.region },
      sent,
      lost,
      lossPercent: lost / sent * 100,
      rtt: lost === sent ? null : { p50: 2.4, p99: 3.1 },
      flows,
    };
  });
  return {
    start: new Date(STARTED).toISOString(),
    end: new Date(STARTED + 30_000).toISOString(),
    intervalSeconds: 30,
    paths,
  };
}
