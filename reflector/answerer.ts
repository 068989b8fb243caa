import {
  type Clock,
  type DatagramBatch,
  type DatagramSocket,
  fillReflection,
  formatAddress,
  PADDING_ANSWER_MARK,
  ProbeAuthCheck,
  ProbeAuthenticator,
  ProbeReader,
  type ProbeRejection,
  ReflectionFlag,
  reflectionFlags,
  type SharedKey,
  type SocketAddress,
  SocketError,
  TokenBucket,
  WallNanos,
} from "@llama/core";
import type { StampCounters } from "./_stamp_counters.ts";
import { OVER_RATE, SourceLimits, type SourceLimitSettings, WITHIN_RATE } from "./source_limits.ts";

/**
 * Why a datagram was not answered because it is not a probe: a `ProbeRejection`, or `answer` for
 * one a reflector already answered (its reflection block filled, or its padding marked).
 */
export type InvalidReason = ProbeRejection | "answer";

/**
 * Why a probe was refused: `not-allowed`, its source is outside `--allow`; `source-port`, it came
 * from a port no prober sends from (see `--refuse-source-ports`); `unmarkable`, it has neither a
 * reflection block nor padding, so its answer could not be told from a probe and two reflectors
 * would bounce it forever; `per-source-rate`, its source's bucket (`--per-source-pps`) is empty;
 * `per-source-table-full`, its source found no room in the per-source table and the overflow
 * bucket shared by such sources is empty. With `--auth-key-file`: `unsigned`, no authentication
 * tag (field 10); `unknown-key`, a tag naming a key the reflector does not hold; `bad-hmac`, a tag
 * that does not verify (altered or forged).
 */
export type RefusalReason =
  | "not-allowed"
  | "source-port"
  | "unmarkable"
  | "per-source-rate"
  | "per-source-table-full"
  | "unsigned"
  | "unknown-key"
  | "bad-hmac";

/** The reflector's counters since it started. */
export interface ReflectorCounters {
  /** Datagrams received. */
  received: number;
  /** Answers sent. */
  answered: number;
  /** Datagrams that were not probes, by reason. */
  invalid: Record<InvalidReason, number>;
  /** Datagrams refused although they may be probes, by reason. */
  refused: Record<RefusalReason, number>;
  /** Answers delayed by the rate limit. */
  throttled: number;
  /** Answers dropped because the backlog was full. */
  dropped: number;
  /** Failed sends (each may have lost a whole batch of answers). */
  sendErrors: number;
  /**
   * Answers a send left out without failing: the socket's buffer stayed full through its
   * retries, so it sent fewer than it was given (a partial batch).
   */
  unsent: number;
  /** Answers waiting in the backlog now. */
  backlog: number;
  /** Sources the per-source table tracks now (0 without `--per-source-pps`). */
  perSourceTracked: number;
  /** The STAMP port's, when the reflector has one. */
  stamp?: StampCounters;
}

const INVALID_REASONS: readonly InvalidReason[] = [
  "truncated",
  "varint-overflow",
  "bad-field-number",
  "bad-wire-type",
  "bad-reflection",
  "no-signature",
  "answer",
];
const REFUSAL_REASONS: readonly RefusalReason[] = [
  "not-allowed",
  "source-port",
  "unmarkable",
  "per-source-rate",
  "per-source-table-full",
  "unsigned",
  "unknown-key",
  "bad-hmac",
];
const RECEIVED = 0, ANSWERED = 1, THROTTLED = 2, DROPPED = 3, SEND_ERRORS = 4, BACKLOG = 5;
const UNSENT = 6, PER_SOURCE_TRACKED = 7;
const INVALID = 8;
const ANSWER = INVALID + INVALID_REASONS.indexOf("answer");
const REFUSED = INVALID + INVALID_REASONS.length;
const SOURCE_PORT = REFUSED + REFUSAL_REASONS.indexOf("source-port");
const UNMARKABLE = REFUSED + REFUSAL_REASONS.indexOf("unmarkable");
const UNSIGNED = REFUSED + REFUSAL_REASONS.indexOf("unsigned");
const UNKNOWN_KEY = REFUSED + REFUSAL_REASONS.indexOf("unknown-key");
const BAD_HMAC = REFUSED + REFUSAL_REASONS.indexOf("bad-hmac");

/** The refusal counter of each negative `ProbeAuthCheck`, indexed by its absolute value. */
const REFUSED_BY_CHECK: readonly number[] = (() => {
  const slots: number[] = [];
  slots[-ProbeAuthCheck.unsigned] = UNSIGNED;
  slots[-ProbeAuthCheck.unknownKey] = UNKNOWN_KEY;
  slots[-ProbeAuthCheck.badMac] = BAD_HMAC;
  return slots;
})();
const NOT_ALLOWED = REFUSED + REFUSAL_REASONS.indexOf("not-allowed");
const PER_SOURCE_RATE = REFUSED + REFUSAL_REASONS.indexOf("per-source-rate");
const PER_SOURCE_TABLE_FULL = REFUSED + REFUSAL_REASONS.indexOf("per-source-table-full");

/** Slots of the counters array: a Float64Array, shared with the main thread when the loop runs on a Worker. */
export const COUNTER_SLOTS = REFUSED + REFUSAL_REASONS.length;

/** Reads the counters array written by an `Answerer`. */
export function readCounters(values: Float64Array): ReflectorCounters {
  const invalid = {} as Record<InvalidReason, number>;
  INVALID_REASONS.forEach((reason, index) => invalid[reason] = values[INVALID + index]);
  const refused = {} as Record<RefusalReason, number>;
  REFUSAL_REASONS.forEach((reason, index) => refused[reason] = values[REFUSED + index]);
  return {
    received: values[RECEIVED],
    answered: values[ANSWERED],
    invalid,
    refused,
    throttled: values[THROTTLED],
    dropped: values[DROPPED],
    sendErrors: values[SEND_ERRORS],
    unsent: values[UNSENT],
    backlog: values[BACKLOG],
    perSourceTracked: values[PER_SOURCE_TRACKED],
  };
}

/** An answer held back by the rate limit. */
interface Delayed {
  bytes: Uint8Array;
  address: SocketAddress;
  receivedAt: number;
  tos: number;
  reflectionOffset: number;
  kernelTime: boolean;
  /** The authentication tag's offsets and the key that verified it; `keyIndex` -1: none. */
  authStart: number;
  authEnd: number;
  keyIndex: number;
}

/** Where the answerer's warnings go: a logger, or a message to the main thread. */
export type Warn = (message: string, properties: Record<string, unknown>) => void;

/** How an `Answerer` answers. */
export interface AnswererSettings {
  /** Most answers per second; 0 means unlimited. */
  maxPps: number;
  /** Answers waiting for the rate limit before new ones are dropped. */
  backlogLimit: number;
  /** A 65,536-entry table, 1 for each source port never answered (see `refusedPortTable`). */
  refusedSourcePorts: Uint8Array;
  /**
   * Keys of `--auth-key-file`: when set, only probes whose tag verifies with one of them are
   * answered, and each answer is signed again with the key that verified its probe.
   */
  authKeys?: readonly SharedKey[];
  /** `--allow` and `--per-source-pps`; default: every source, no per-source limit. */
  sourceLimits?: SourceLimitSettings;
}

/**
 * What a reflector does with the datagrams it receives, whichever thread runs its loop: checks
 * each one, fills the reflection block in place, applies the rate limit (holding answers in a
 * bounded backlog), and counts everything in a Float64Array.
 */
export class Answerer {
  readonly #socket: DatagramSocket;
  readonly #wall: WallNanos;
  readonly #reader = new ProbeReader();
  readonly #bucket: TokenBucket | undefined;
  readonly #backlogLimit: number;
  readonly #backlog: Delayed[] = [];
  readonly #counters: Float64Array;
  readonly #warn: Warn;
  readonly #refusedPorts: Uint8Array;
  readonly #auth: ProbeAuthenticator | undefined;
  readonly #sourceLimits: SourceLimits | undefined;
  /** Per counter slot, the count at which the next datagram not answered for it is logged. */
  readonly #nextLogged = new Float64Array(COUNTER_SLOTS).fill(1);

  /** Answers through `socket`, counting in `counters` (`COUNTER_SLOTS` long). */
  constructor(
    socket: DatagramSocket,
    clock: Clock,
    settings: AnswererSettings,
    counters: Float64Array,
    warn: Warn,
  ) {
    if (settings.refusedSourcePorts.length !== 65536) {
      throw new RangeError(
        `Cannot answer: the refused source ports must be a table of 65536 entries, got ${settings.refusedSourcePorts.length}`,
      );
    }
    this.#refusedPorts = settings.refusedSourcePorts;
    this.#auth = settings.authKeys === undefined
      ? undefined
      : new ProbeAuthenticator(settings.authKeys);
    this.#sourceLimits = SourceLimits.from(settings.sourceLimits);
    this.#socket = socket;
    this.#wall = new WallNanos(clock);
    this.#backlogLimit = settings.backlogLimit;
    this.#counters = counters;
    this.#warn = warn;
    if (settings.maxPps > 0) {
      // A burst of 50 ms worth lets a collector's cycle through many targets pass unthrottled.
      this.#bucket = new TokenBucket(
        { rate: settings.maxPps, burst: Math.ceil(settings.maxPps / 20) },
        clock,
      );
    }
  }

  /** Answers held back by the rate limit, waiting now. */
  get backlog(): number {
    return this.#backlog.length;
  }

  /**
   * Prepares a received batch for sending in place: a slot that is not answered now gets length
   * 0. Returns how many answers it holds.
   */
  answerBatch(batch: DatagramBatch, count: number): number {
    const counters = this.#counters;
    const refusedPorts = this.#refusedPorts;
    const limits = this.#sourceLimits;
    const addresses = batch.addresses;
    let answers = 0;
    for (let index = 0; index < count; index++) {
      counters[RECEIVED]++;
      const bytes = batch.slots[index];
      const length = batch.lengths[index];
      if (limits !== undefined && !limits.allows(addresses[index].hostname)) {
        this.#notAnswered(batch, index, NOT_ALLOWED);
        continue;
      }
      if (refusedPorts[addresses[index].port] === 1) {
        this.#notAnswered(batch, index, SOURCE_PORT);
        continue;
      }
      const reader = this.#reader;
      if (!reader.read(bytes, length)) {
        this.#notAnswered(
          batch,
          index,
          INVALID + INVALID_REASONS.indexOf(reader.rejection ?? "truncated"),
        );
        continue;
      }
      // Offsets in the batch's shared view: no per-datagram view is allocated.
      const reflection = reader.reflectionOffset < 0
        ? -1
        : bytes.byteOffset + reader.reflectionOffset;
      // An answer must never be answerable, by this reflector or another (a llama one, or the
      // original, which echoes what it receives): otherwise one spoofed datagram bounces
      // between two reflectors forever. A llama probe's answer is marked by its filled
      // reflection block; any other's by its first padding byte; one with neither is refused.
      if (reflection >= 0) {
        if (reflectionFlags(batch.view, reflection) & ReflectionFlag.filled) {
          this.#notAnswered(batch, index, ANSWER);
          continue;
        }
      } else if (reader.paddingLength === 0) {
        this.#notAnswered(batch, index, UNMARKABLE);
        continue;
      } else if (bytes[reader.paddingOffset] === PADDING_ANSWER_MARK) {
        this.#notAnswered(batch, index, ANSWER);
        continue;
      }
      // Checked before the padding mark changes a byte the tag covers.
      let keyIndex = -1;
      if (this.#auth !== undefined) {
        keyIndex = this.#auth.check(bytes, length, reader.authStart, reader.authEnd);
        if (keyIndex < 0) {
          this.#notAnswered(batch, index, REFUSED_BY_CHECK[-keyIndex]);
          continue;
        }
      }
      // Only what would be answered costs a token: junk cannot empty a source's bucket.
      if (limits !== undefined) {
        const verdict = limits.take(addresses[index].hostname, batch.receivedAt[index]);
        if (verdict !== WITHIN_RATE) {
          this.#notAnswered(
            batch,
            index,
            verdict === OVER_RATE ? PER_SOURCE_RATE : PER_SOURCE_TABLE_FULL,
          );
          continue;
        }
      }
      if (reflection < 0) bytes[reader.paddingOffset] = PADDING_ANSWER_MARK;
      if (this.#bucket !== undefined && (this.#backlog.length > 0 || !this.#bucket.take())) {
        this.#delay(batch, index, reader.reflectionOffset, keyIndex);
        batch.lengths[index] = 0;
        continue;
      }
      if (reflection >= 0) {
        this.#fill(
          batch.view,
          reflection,
          batch.receivedAt[index],
          batch.tos[index],
          batch.timestampSource === "kernel",
        );
      }
      // Signed last: the tag covers the reflection block and the padding mark just written.
      if (keyIndex >= 0) {
        this.#auth!.sign(bytes, length, reader.authStart, reader.authEnd, keyIndex);
      }
      answers++;
    }
    if (limits !== undefined) counters[PER_SOURCE_TRACKED] = limits.tracked;
    return answers;
  }

  /** Milliseconds until the oldest delayed answer may go: 0 now, Infinity when none waits. */
  delayedWaitMs(): number {
    if (this.#backlog.length === 0) return Infinity;
    return this.#bucket?.waitMs() ?? 0;
  }

  /**
   * Puts the oldest delayed answer the rate limit lets go now into slot 0 of `batch`, ready to
   * send; false when none may go.
   */
  takeDelayed(batch: DatagramBatch): boolean {
    if (this.#backlog.length === 0) return false;
    if (this.#bucket !== undefined && !this.#bucket.take()) return false;
    const delayed = this.#backlog.shift()!;
    this.#counters[BACKLOG] = this.#backlog.length;
    batch.slots[0].set(delayed.bytes);
    batch.lengths[0] = delayed.bytes.length;
    batch.addresses[0] = delayed.address;
    batch.tos[0] = delayed.tos; // answered in the probe's traffic class, as at once
    if (delayed.reflectionOffset >= 0) {
      this.#fill(
        batch.view,
        delayed.reflectionOffset,
        delayed.receivedAt,
        delayed.tos,
        delayed.kernelTime,
      );
    }
    if (delayed.keyIndex >= 0) {
      this.#auth!.sign(
        batch.slots[0],
        delayed.bytes.length,
        delayed.authStart,
        delayed.authEnd,
        delayed.keyIndex,
      );
    }
    return true;
  }

  /**
   * Counts the answers the socket sent, `sent` of the `asked` it was given; those it left out
   * (a partial batch send) are counted as unsent.
   */
  sent(sent: number, asked: number): void {
    this.#counters[ANSWERED] += sent;
    if (sent < asked) this.#counters[UNSENT] += asked - sent;
  }

  /** Counts (and logs the first few of) failed sends; a closed socket is not a failure. */
  sendFailed(error: unknown): void {
    if (error instanceof SocketError && error.operation === "closed") return;
    const errors = ++this.#counters[SEND_ERRORS];
    // One line per failure would flood the log when a peer's host is unreachable; the counter
    // keeps the total and the first few are logged.
    if (errors <= 10 || errors % 1000 === 0) {
      this.#warn("Answer not sent ({count} so far): {error}", { count: errors, error });
    }
  }

  /** Counts a datagram not answered for the reason in counter `slot`, logging the first few. */
  #notAnswered(batch: DatagramBatch, index: number, slot: number): void {
    const count = ++this.#counters[slot];
    const length = batch.lengths[index];
    batch.lengths[index] = 0;
    // Hostile traffic must not flood the log: the 1st, 10th, 100th, … of each reason is logged.
    if (count < this.#nextLogged[slot]) return;
    this.#nextLogged[slot] *= 10;
    this.#warn(
      "Not answered: a {length}-byte datagram from {source}: {reason} ({count} so far)",
      {
        length,
        source: formatAddress(batch.addresses[index]),
        reason: slot >= REFUSED ? REFUSAL_REASONS[slot - REFUSED] : INVALID_REASONS[slot - INVALID],
        count,
      },
    );
  }

  #fill(
    view: DataView,
    offset: number,
    receivedAt: number,
    tos: number,
    kernelTime: boolean,
  ): void {
    const wall = this.#wall;
    wall.convert(receivedAt);
    const receivedHigh = wall.high;
    const receivedLow = wall.low;
    // The send time on the socket's own clock: with kernel receive times, the same clock.
    wall.convert(this.#socket.now());
    fillReflection(view, offset, {
      receivedHigh,
      receivedLow,
      sentHigh: wall.high,
      sentLow: wall.low,
      tos,
      flags: kernelTime ? ReflectionFlag.kernelReceiveTime : 0,
    });
  }

  #delay(batch: DatagramBatch, index: number, reflectionOffset: number, keyIndex: number): void {
    if (this.#backlog.length >= this.#backlogLimit) {
      this.#counters[DROPPED]++;
      return;
    }
    this.#counters[THROTTLED]++;
    const address = batch.addresses[index];
    this.#backlog.push({
      bytes: batch.slots[index].slice(0, batch.lengths[index]),
      address: { hostname: address.hostname, port: address.port },
      receivedAt: batch.receivedAt[index],
      tos: batch.tos[index],
      reflectionOffset,
      kernelTime: batch.timestampSource === "kernel",
      authStart: this.#reader.authStart,
      authEnd: this.#reader.authEnd,
      keyIndex,
    });
    this.#counters[BACKLOG] = this.#backlog.length;
  }
}
