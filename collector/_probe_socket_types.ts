/**
 * What a probe socket is configured with and what it counts.
 *
 * @module
 */
import type { ProbeAuthenticator } from "@llama/core";
import type { TraceReceiver } from "./tracer.ts";
import type { ReverseHops } from "./reverse_hops.ts";

/** How one socket's probes look and behave. */
export interface ProbeSocketSettings {
  /** TOS byte written into its probes. */
  tos: number;
  /** Milliseconds after which a probe is lost. */
  timeoutMs: number;
  /** Identifies this collector's probes in signatures (bytes 8–9). */
  instanceTag: number;
  /** Tells when the prober drains the socket on its turns (see `drain`). */
  pace?: ReceivePace;
  /** Where trace probes' answers go and replies' TTLs are counted; absent: no tracing. */
  tracing?: ProbeSocketTracing;
  /** Signs probes and checks replies (authenticated probes); absent: unsigned, like the original. */
  auth?: ProbeAuthenticator;
}

/** What a probe socket hands on for tracing. */
export interface ProbeSocketTracing {
  /** Takes the answers to trace probes (replies and ICMP errors). */
  receiver: TraceReceiver | undefined;
  /** Counts each reply's TTL, by flow. */
  hops: ReverseHops;
}

/** Whether the prober is turning often enough to read every socket on its turns. */
export interface ReceivePace {
  /** True while the prober's turns come every few milliseconds and drain the sockets. */
  busy(): boolean;
  /** Resolves when the prober stops being busy (or stops). */
  whenIdle(): Promise<void>;
}

/** Counters of one socket, cumulative. */
export interface ProbeSocketCounters {
  /** Probes handed to the socket. */
  sent: number;
  /** Replies matched to a probe in flight. */
  answered: number;
  /** Replies after their timeout. */
  late: number;
  /** Replies received a second time. */
  duplicates: number;
  /** Datagrams that matched no probe (not a probe, or another sender's). */
  unmatched: number;
  /** Failed sends and receives. */
  errors: number;
  /**
   * Probes a send left out without failing (the send buffer stayed full through the socket's
   * retries): they stay in flight and end up lost.
   */
  unsent: number;
  /** Probes whose send time is the kernel's transmit timestamp. */
  kernelSendTimes: number;
  /** Kernel transmit times refused as implausible for the probe their key pointed to. */
  sendTimeMismatches: number;
  /** ICMP errors about this socket's regular probes (a target's port unreachable, say). */
  icmpErrors: number;
  /** Authenticated probes: replies whose tag names no key of ours or does not verify. */
  forged: number;
  /**
   * Authenticated probes: replies without a tag, or without a filled reflection block (an echo
   * by a reflector without keys, such as the original).
   */
  unsigned: number;
  /** Authenticated probes: replies that verify but whose probe was already answered, or unknown. */
  replayed: number;
}

/** Counters of a socket that has done nothing yet. */
export function zeroSocketCounters(): ProbeSocketCounters {
  return {
    sent: 0,
    answered: 0,
    late: 0,
    duplicates: 0,
    unmatched: 0,
    errors: 0,
    unsent: 0,
    kernelSendTimes: 0,
    sendTimeMismatches: 0,
    icmpErrors: 0,
    forged: 0,
    unsigned: 0,
    replayed: 0,
  };
}
