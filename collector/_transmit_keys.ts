/**
 * The kernel transmit times a probe socket still expects: which probe each timestamp key belongs
 * to, so that the kernel's send time can replace the clock's.
 *
 * @module
 */
import type { DatagramSocket, IcmpErrorSink } from "@llama/core";
import type { InFlightTable } from "./in_flight.ts";

/** Probes whose transmit time may still be coming: far more than are sent between two reads. */
const KEY_RING = 1 << 16;
/** A kernel transmit time this long after the clock read before the send belongs to another probe. */
const TRANSMIT_TOLERANCE_MS = 20;

/** What the kernel's transmit times did: counted by the probe socket. */
export interface TransmitCounters {
  /** Probes whose send time is the kernel's transmit timestamp. */
  kernelSendTimes: number;
  /** Kernel transmit times refused as implausible for the probe their key pointed to. */
  sendTimeMismatches: number;
}

/** The probe id and the key of each transmit time still expected, by key modulo `KEY_RING`. */
export class TransmitKeys {
  readonly #ids = new Uint32Array(KEY_RING);
  readonly #keys = new Float64Array(KEY_RING).fill(-1);
  /** Transmit times expected and not read yet: no system call is made while there are none. */
  #unread = 0;
  readonly #onTransmitTime: (key: number, sentAt: number) => void;

  /** Keys of probes of `table`, counting what the kernel's times did in `counters`. */
  constructor(table: InFlightTable, counters: TransmitCounters) {
    this.#onTransmitTime = (key, sentAt) => {
      const slot = key & (KEY_RING - 1);
      if (this.#keys[slot] !== key) return; // a probe already forgotten
      this.#keys[slot] = -1;
      if (table.refineSentAt(this.#ids[slot], sentAt, TRANSMIT_TOLERANCE_MS)) {
        counters.kernelSendTimes++;
      } else if (table.isInFlight(this.#ids[slot])) {
        counters.sendTimeMismatches++;
      }
    };
  }

  /** Probe `id`'s transmit time will come with `key`. */
  expect(key: number, id: number): void {
    this.#ids[key & (KEY_RING - 1)] = id;
    this.#keys[key & (KEY_RING - 1)] = key;
    this.#unread++;
  }

  /**
   * Takes the transmit times `socket` has queued as the send times of their probes, and gives
   * the ICMP errors queued beside them to `errors` (when given, the queue is read every time:
   * an error can come at any time).
   */
  read(socket: DatagramSocket, errors?: IcmpErrorSink): void {
    if (errors !== undefined && socket.readErrorQueue !== undefined) {
      const read = socket.readErrorQueue(this.#onTransmitTime, errors);
      if (this.#unread > 0) this.#unread = read === 0 ? 0 : Math.max(0, this.#unread - read);
      return;
    }
    if (this.#unread === 0) return;
    const read = socket.readTransmitTimes?.(this.#onTransmitTime) ?? 0;
    // None queued now: any still to come are read after the next send.
    this.#unread = read === 0 ? 0 : Math.max(0, this.#unread - read);
  }
}
