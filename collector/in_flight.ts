/**
 * Probes in flight on one socket, in a ring indexed by probe id: O(1) insert, match and expiry,
 * no per-probe allocation. A socket's probes share one timeout, so send order is expiry order
 * and the oldest probe is always at the head. Resolved entries stay in the ring until their slot
 * is reused, so a reply that comes after its timeout is recognised as late, and a second reply
 * as a duplicate.
 *
 * @module
 */

/** The state of a slot. */
export const SlotState = { free: 0, inFlight: 1, answered: 2, lost: 3 } as const;

/** What `InFlightTable.match` found. */
export type MatchResult = "answered" | "late" | "duplicate" | "unknown";

/** Called for every probe whose fate becomes known. */
export interface ProbeOutcomeSink {
  /**
   * A probe came back in time; `rttMs` is its round-trip time, with the reflector's dwell time
   * subtracted when `dwellCorrected`.
   */
  answered(
    flow: number,
    interval: number,
    sequence: number,
    rttMs: number,
    dwellCorrected: boolean,
  ): void;
  /** A probe did not come back within the timeout. */
  lost(flow: number, interval: number): void;
  /** A probe came back after its timeout, or a second time. */
  stray(flow: number, interval: number, kind: "late" | "duplicate"): void;
}

/** Probe ids wrap around at 2^30; the ring never grows beyond that. */
export const ID_MASK = 2 ** 30 - 1;

/** The ring of one socket's probes in flight. */
export class InFlightTable {
  #capacity = 0;
  #mask = 0;
  #ids: Uint32Array = new Uint32Array(0);
  #nonces: Uint32Array = new Uint32Array(0);
  #sentAt: Float64Array = new Float64Array(0);
  #flows: Uint32Array = new Uint32Array(0);
  #intervals: Float64Array = new Float64Array(0);
  #sequences: Uint32Array = new Uint32Array(0);
  #states: Uint8Array = new Uint8Array(0);
  /**
   * Next id to hand out; ids are the probe count modulo 2^30 (`ID_MASK`): V8's small integers,
   * which a call passes without boxing. Modulo 2^32, three ids in four are heap numbers once a
   * socket has sent 2^30 probes (15 hours at 20k probes/s), one allocation a probe.
   */
  #next = 0;
  /** Oldest id that may still be in flight. */
  #head = 0;
  #inFlight = 0;
  /** Flow of the probe the last `match` answered. */
  lastFlow = 0;
  /** Interval of the probe the last `match` answered. */
  lastInterval = 0;

  /**
   * Creates a table; it doubles its capacity when a timeout's worth of probes does not fit. Its
   * first id is `firstId` (0 but in tests of the wrap-around).
   */
  constructor(initialCapacity = 1024, firstId = 0) {
    this.#allocate(2 ** Math.ceil(Math.log2(Math.max(16, initialCapacity))));
    // Another first id only for tests of the wrap-around.
    this.#next = this.#head = firstId & ID_MASK;
  }

  /** Probes sent and not yet answered or expired. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Slots allocated. */
  get capacity(): number {
    return this.#capacity;
  }

  /**
   * Records a probe about to be sent and returns its id; the caller writes the id and `nonce`
   * into the signature. `sentAt` may be set later with `setSentAt`, before the event loop turns.
   */
  insert(flow: number, interval: number, sequence: number, nonce: number, sentAt: number): number {
    if (((this.#next - this.#head) & ID_MASK) >= this.#capacity) this.#grow();
    const id = this.#next;
    this.#next = (this.#next + 1) & ID_MASK;
    const slot = id & this.#mask;
    this.#ids[slot] = id;
    this.#nonces[slot] = nonce;
    this.#sentAt[slot] = sentAt;
    this.#flows[slot] = flow;
    this.#intervals[slot] = interval;
    this.#sequences[slot] = sequence;
    this.#states[slot] = SlotState.inFlight;
    this.#inFlight++;
    return id;
  }

  /** Sets the send time of a probe inserted earlier (the socket reports when it went out). */
  setSentAt(id: number, sentAt: number): void {
    const slot = id & this.#mask;
    if (this.#ids[slot] === id) this.#sentAt[slot] = sentAt;
  }

  /**
   * Sets the nonce of a probe inserted earlier: a STAMP probe's is the timestamp it carries,
   * known only once its sequence number (the id) is written.
   */
  setNonce(id: number, nonce: number): void {
    const slot = id & this.#mask;
    if (this.#ids[slot] === id) this.#nonces[slot] = nonce;
  }

  /** Whether the probe `id` is still waiting for its reply. */
  isInFlight(id: number): boolean {
    const slot = id & this.#mask;
    return this.#ids[slot] === id && this.#states[slot] === SlotState.inFlight;
  }

  /**
   * Replaces the send time of a probe still in flight with the kernel's transmit time, if that is
   * plausible: no earlier than the clock read before the send, and less than `toleranceMs` after
   * it. Anything else means the time belongs to another probe; it is refused (false).
   */
  refineSentAt(id: number, kernelSentAt: number, toleranceMs: number): boolean {
    const slot = id & this.#mask;
    if (this.#ids[slot] !== id || this.#states[slot] !== SlotState.inFlight) return false;
    const delay = kernelSentAt - this.#sentAt[slot];
    if (!(delay >= -0.001 && delay < toleranceMs)) return false;
    this.#sentAt[slot] = kernelSentAt;
    return true;
  }

  /**
   * Matches a reply by its id and nonce. `receivedAt` is the monotonic receive time and
   * `dwellMs` the reflector's own delay, subtracted from the round trip (negative: unknown).
   */
  match(
    id: number,
    nonce: number,
    receivedAt: number,
    dwellMs: number,
    sink: ProbeOutcomeSink,
  ): MatchResult {
    const slot = id & this.#mask;
    if (this.#ids[slot] !== id || this.#nonces[slot] !== nonce) return "unknown";
    switch (this.#states[slot]) {
      case SlotState.inFlight: {
        this.#states[slot] = SlotState.answered;
        this.#inFlight--;
        this.lastFlow = this.#flows[slot];
        this.lastInterval = this.#intervals[slot];
        const corrected = dwellMs >= 0;
        const rtt = receivedAt - this.#sentAt[slot] - (corrected ? dwellMs : 0);
        sink.answered(
          this.#flows[slot],
          this.#intervals[slot],
          this.#sequences[slot],
          rtt > 0 ? rtt : 0,
          corrected,
        );
        return "answered";
      }
      case SlotState.lost:
        sink.stray(this.#flows[slot], this.#intervals[slot], "late");
        return "late";
      case SlotState.answered:
        sink.stray(this.#flows[slot], this.#intervals[slot], "duplicate");
        return "duplicate";
      default:
        return "unknown";
    }
  }

  /** Declares lost every probe sent at or before `deadline` (now minus the timeout) still in flight. */
  expire(deadline: number, sink: ProbeOutcomeSink): void {
    while (this.#head !== this.#next) {
      const slot = this.#head & this.#mask;
      const state = this.#states[slot];
      if (state === SlotState.inFlight) {
        if (!(this.#sentAt[slot] <= deadline)) return;
        this.#states[slot] = SlotState.lost;
        this.#inFlight--;
        sink.lost(this.#flows[slot], this.#intervals[slot]);
      }
      this.#head = (this.#head + 1) & ID_MASK;
    }
  }

  /** Replaces the ring with an empty one of `capacity` slots (a power of two). */
  #allocate(capacity: number): void {
    this.#capacity = capacity;
    this.#mask = capacity - 1;
    this.#ids = new Uint32Array(capacity);
    this.#nonces = new Uint32Array(capacity);
    this.#sentAt = new Float64Array(capacity);
    this.#flows = new Uint32Array(capacity);
    this.#intervals = new Float64Array(capacity);
    this.#sequences = new Uint32Array(capacity);
    this.#states = new Uint8Array(capacity);
  }

  /** Doubles the ring, keeping every entry at its id's new slot. */
  #grow(): void {
    const old = {
      ids: this.#ids,
      nonces: this.#nonces,
      sentAt: this.#sentAt,
      flows: this.#flows,
      intervals: this.#intervals,
      sequences: this.#sequences,
      states: this.#states,
      mask: this.#mask,
    };
    this.#allocate(this.#capacity * 2);
    // Every id from head to next is in the old ring; older resolved entries are dropped, so their
    // late replies become unknown, which only happens while the ring is growing.
    for (let id = this.#head; id !== this.#next; id = (id + 1) & ID_MASK) {
      const from = id & old.mask;
      const to = id & this.#mask;
      this.#ids[to] = old.ids[from];
      this.#nonces[to] = old.nonces[from];
      this.#sentAt[to] = old.sentAt[from];
      this.#flows[to] = old.flows[from];
      this.#intervals[to] = old.intervals[from];
      this.#sequences[to] = old.sequences[from];
      this.#states[to] = old.states[from];
    }
  }
}
