import assert from "node:assert/strict";
import { DatagramBatch } from "./socket.ts";
import { ErrorQueueEntry, readErrorControl, readReceiveControl } from "./_cmsg.ts";
import { RealtimeClock } from "./_realtime_clock.ts";
import {
  IP_RECVERR,
  IP_TOS,
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_HOPLIMIT,
  IPV6_RECVERR,
  IPV6_TCLASS,
  SCM_TSTAMP_SND,
  SO_EE_ORIGIN_TIMESTAMPING,
  SO_TIMESTAMPING,
  SO_TIMESTAMPNS,
  SOL_SOCKET,
} from "./_linux.ts";

/** Control messages as Linux lays them out: cmsghdr (len: size_t, level, type), data, 8-aligned. */
class Control {
  readonly bytes = new Uint8Array(256);
  readonly view = new DataView(this.bytes.buffer);
  length = 0;

  add(level: number, type: number, data: number[]): this {
    const length = 16 + data.length;
    this.view.setUint32(this.length, length, true);
    this.view.setInt32(this.length + 8, level, true);
    this.view.setInt32(this.length + 12, type, true);
    this.bytes.set(data, this.length + 16);
    this.length += (length + 7) & ~7;
    return this;
  }
}

/** A struct timespec: 64-bit seconds and nanoseconds, little-endian. */
function timespec(seconds: number, nanos: number): number[] {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setBigInt64(0, BigInt(seconds), true);
  view.setBigInt64(8, BigInt(nanos), true);
  return [...bytes];
}

const int32 = (value: number) => [...new Uint8Array(new Int32Array([value]).buffer)];

// An uncalibrated clock maps a timespec to seconds × 1000 + nanoseconds / 1e6: easy to check.
const clock = new RealtimeClock();

Deno.test("a received datagram's SO_TIMESTAMPNS and IP_TOS are read into its slot", () => {
  const control = new Control()
    .add(SOL_SOCKET, SO_TIMESTAMPNS, timespec(1_700_000_000, 250_000_000))
    .add(IPPROTO_IP, IP_TOS, [0xb8]);
  const batch = new DatagramBatch(2, 16);
  batch.tos[1] = -1;
  const kernelTime = readReceiveControl(control.view, 0, control.length, clock, batch, 1);
  assert.equal(kernelTime, true);
  assert.equal(batch.receivedAt[1], 1_700_000_000_250);
  assert.equal(batch.tos[1], 0xb8);
});

Deno.test("an IPv6 datagram's IPV6_TCLASS (an int) is its TOS; no timestamp, no kernel time", () => {
  const control = new Control().add(IPPROTO_IPV6, IPV6_TCLASS, int32(0x28));
  const batch = new DatagramBatch(1, 16);
  batch.receivedAt[0] = 5;
  assert.equal(readReceiveControl(control.view, 0, control.length, clock, batch, 0), false);
  assert.equal(batch.tos[0], 0x28);
  assert.equal(batch.receivedAt[0], 5, "the receive time is left as it was");
});

Deno.test("control messages of another slot are read at their base; a bad length stops", () => {
  const control = new Control().add(IPPROTO_IP, IP_TOS, [0]).add(IPPROTO_IP, IP_TOS, [0x10]);
  const batch = new DatagramBatch(1, 16);
  readReceiveControl(control.view, 24, control.length - 24, clock, batch, 0);
  assert.equal(batch.tos[0], 0x10);
  control.view.setUint32(0, 3, true); // shorter than a header: never loops
  batch.tos[0] = -1;
  readReceiveControl(control.view, 0, control.length, clock, batch, 0);
  assert.equal(batch.tos[0], 0);
});

Deno.test("an error-queue message gives its software transmit time and the key it is for", () => {
  for (const [level, type] of [[IPPROTO_IP, IP_RECVERR], [IPPROTO_IPV6, IPV6_RECVERR]]) {
    // struct sock_extended_err: ee_errno (u32), ee_origin, ee_type, ee_code, ee_pad (u8 each),
    // ee_info (u32: SCM_TSTAMP_SND), ee_data (u32: the key).
    const extended = new Uint8Array(16);
    const view = new DataView(extended.buffer);
    view.setUint32(0, 42, true); // ENOMSG
    extended[4] = SO_EE_ORIGIN_TIMESTAMPING;
    view.setUint32(8, SCM_TSTAMP_SND, true);
    view.setUint32(12, 7, true);
    // struct scm_timestamping: three timespecs, the first the software one.
    const times = [...timespec(2, 500_000), ...timespec(0, 0), ...timespec(0, 0)];
    const control = new Control().add(SOL_SOCKET, SO_TIMESTAMPING, times).add(level, type, [
      ...extended,
    ]);
    const report = new ErrorQueueEntry();
    readErrorControl(control.view, 0, control.length, clock, report);
    assert.equal(report.key, 7);
    assert.equal(report.time, 2000.5);
  }
});

Deno.test("an error-queue message of another origin gives no key, and the report starts afresh", () => {
  const extended = new Uint8Array(16);
  extended[4] = 2; // SO_EE_ORIGIN_ICMP
  const control = new Control().add(IPPROTO_IP, IP_RECVERR, [...extended]);
  const report = new ErrorQueueEntry();
  report.key = 3;
  report.time = 1;
  readErrorControl(control.view, 0, control.length, clock, report);
  assert.equal(report.key, -1);
  assert.ok(Number.isNaN(report.time));
});

Deno.test("a received datagram's IP_TTL and IPV6_HOPLIMIT (ints) are its TTL", () => {
  const batch = new DatagramBatch(2, 16);
  const v4 = new Control().add(IPPROTO_IP, IP_TOS, [0]).add(IPPROTO_IP, IP_TTL, int32(61));
  readReceiveControl(v4.view, 0, v4.length, clock, batch, 0);
  const v6 = new Control().add(IPPROTO_IPV6, IPV6_HOPLIMIT, int32(255));
  readReceiveControl(v6.view, 0, v6.length, clock, batch, 1);
  assert.deepEqual([...batch.ttl], [61, 255]);
});

Deno.test("an ICMP error on the error queue gives its origin, type, code, errno, offender and arrival", () => {
  // sock_extended_err of a time exceeded (EHOSTUNREACH, origin ICMP, type 11, code 0), then the
  // offender's sockaddr_in (AF_INET, port 0, 192.0.2.1).
  const extended = new Uint8Array(32);
  const view = new DataView(extended.buffer);
  view.setUint32(0, 113, true);
  extended.set([2, 11, 0], 4);
  view.setUint16(16, 2, true);
  extended.set([192, 0, 2, 1], 20);
  const control = new Control()
    .add(SOL_SOCKET, SO_TIMESTAMPNS, timespec(3, 0))
    .add(IPPROTO_IP, IP_RECVERR, [...extended]);
  const entry = new ErrorQueueEntry();
  readErrorControl(control.view, 0, control.length, clock, entry);
  assert.deepEqual(
    [entry.origin, entry.type, entry.code, entry.errno, entry.key, entry.receivedAt],
    [2, 11, 0, 113, -1, 3000],
  );
  assert.ok(Number.isNaN(entry.time));
  // The offender's sockaddr is where the entry says, inside the control messages.
  assert.equal(control.view.getUint16(entry.offender, true), 2);
  assert.equal(control.view.getUint8(entry.offender + 4), 192);
});
