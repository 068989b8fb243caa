#!/usr/bin/env python3
"""A minimal STAMP Session-Sender and Session-Reflector, written from RFC 8762 (with the SSID of
RFC 8972 section 3) and not from llama's code: the interop partner of llama's tests.

  stamp_reference.py reflect --port N [--host H] [--stateful] [--key-file F]
  stamp_reference.py send --to HOST:PORT --count N [--key-file F] [--ssid S] [--interval SEC]
                          [--timeout SEC] [--padding BYTES] [--json]

Both print one JSON object a line on stdout: the reflector {"event": "listening", "port": N}
once bound, then one line per packet answered or dropped; the sender one line per packet sent
(its reply or its loss) and a summary. Times are Unix seconds (floats); NTP timestamps are also
given raw as [seconds, fraction]. TLVs after the base packet are returned unchanged.
"""
import argparse
import hashlib
import hmac
import json
import socket
import struct
import sys
import time

NTP_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01 (RFC 5905)
# Linux values, for Pythons whose socket module lacks the names.
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
IP_TTL = getattr(socket, "IP_TTL", 2)
IPV6_RECVHOPLIMIT = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
IPV6_HOPLIMIT = getattr(socket, "IPV6_HOPLIMIT", 52)
UNAUTH_BYTES = 44  # RFC 8762 section 4.2.1, Figure 2 (sender) and 4.3.1, Figure 4 (reflector)
AUTH_BYTES = 112  # RFC 8762 Figure 3 (sender) and Figure 5 (reflector)


def ntp_now():
    now = time.time()
    seconds = int(now)
    return (seconds + NTP_OFFSET) & 0xFFFFFFFF, int((now - seconds) * 2**32) & 0xFFFFFFFF


def ntp_to_unix(seconds, fraction):
    if seconds == 0 and fraction == 0:
        return 0.0
    return seconds - NTP_OFFSET + fraction / 2**32


def load_key(path):
    """The first key of a file of `ID HEX_SECRET` lines (# comments)."""
    if path is None:
        return None
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                _, secret = line.split()
                return bytes.fromhex(secret)
    raise SystemExit(f"{path}: no key")


def mac(key, data):
    """HMAC-SHA-256 truncated to 128 bits (RFC 8762 section 4.1.2)."""
    return hmac.new(key, data, hashlib.sha256).digest()[:16]


def emit(record):
    print(json.dumps(record), flush=True)


# --- Session-Sender ---------------------------------------------------------------------------

def sender_packet(seq, ssid, key, padding):
    seconds, fraction = ntp_now()
    error_estimate = 0x0001  # S=0, Z=0 (NTP), scale 0, multiplier 1
    if key is None:
        # Figure 2: seq(4) timestamp(8) error estimate(2) SSID(2) MBZ(28)
        packet = struct.pack("!IIIHH28x", seq, seconds, fraction, error_estimate, ssid)
    else:
        # Figure 3: seq(4) MBZ(12) timestamp(8) error estimate(2) SSID(2) MBZ(68) HMAC(16)
        body = struct.pack("!I12xIIHH68x", seq, seconds, fraction, error_estimate, ssid)
        packet = body + mac(key, body)
    return packet + bytes(padding), ntp_to_unix(seconds, fraction)


def parse_reply(data, key):
    if key is None:
        if len(data) < UNAUTH_BYTES:
            return None
        # Figure 4: seq, timestamp, error estimate, SSID, receive timestamp, sender seq,
        # sender timestamp, sender error estimate, MBZ(2), sender TTL, MBZ(3)
        (seq, ts_s, ts_f, err, ssid, rx_s, rx_f, sseq, st_s, st_f, serr, ttl) = struct.unpack(
            "!IIIHHIIIIIH2xB3x", data[:UNAUTH_BYTES])
        verified = None
    else:
        if len(data) < AUTH_BYTES:
            return None
        # Figure 5, with the SSID of RFC 8972 after the Error Estimate
        (seq, ts_s, ts_f, err, ssid, rx_s, rx_f, sseq, st_s, st_f, serr, ttl) = struct.unpack(
            "!I12xIIHH4xII8xI12xIIH6xB15x", data[:96])
        verified = hmac.compare_digest(mac(key, data[:96]), data[96:112])
    return {
        "reflector_seq": seq, "sender_seq": sseq, "ssid": ssid, "ttl": ttl,
        "t1": ntp_to_unix(st_s, st_f), "t2": ntp_to_unix(rx_s, rx_f), "t3": ntp_to_unix(ts_s, ts_f),
        "t2_ntp": [rx_s, rx_f], "t3_ntp": [ts_s, ts_f], "error_estimate": err,
        "sender_error_estimate": serr, "hmac_verified": verified, "length": len(data),
    }


def send(args):
    host, port = args.to.rsplit(":", 1)
    host = host.strip("[]")
    key = load_key(args.key_file)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.connect((host, int(port)))
    sent_at = {}
    replies = {}
    deadline = None
    for seq in range(args.count):
        packet, t1 = sender_packet(seq, args.ssid, key, args.padding)
        sock.send(packet)
        sent_at[seq] = t1
        end = time.time() + args.interval
        while True:
            remaining = end - time.time()
            if remaining <= 0:
                break
            receive(sock, key, remaining, replies)
    deadline = time.time() + args.timeout
    while len(replies) < args.count and time.time() < deadline:
        receive(sock, key, deadline - time.time(), replies)
    for seq in range(args.count):
        reply = replies.get(seq)
        if reply is None:
            emit({"event": "lost", "sender_seq": seq, "t1": sent_at[seq]})
        else:
            emit({"event": "reply", **reply})
    emit({"event": "summary", "sent": args.count, "received": len(replies),
          "bad_hmac": sum(1 for r in replies.values() if r["hmac_verified"] is False)})


def receive(sock, key, timeout, replies):
    sock.settimeout(max(timeout, 0.001))
    try:
        data = sock.recv(65536)
    except (socket.timeout, ConnectionRefusedError):
        return
    t4 = time.time()
    reply = parse_reply(data, key)
    if reply is not None:
        reply["t4"] = t4
        replies.setdefault(reply["sender_seq"], reply)


# --- Session-Reflector ------------------------------------------------------------------------

def reflect(args):
    key = load_key(args.key_file)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((args.host, args.port))
    if family == socket.AF_INET:
        sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
    emit({"event": "listening", "port": sock.getsockname()[1]})
    counters = {}  # stateful mode: (address, port, SSID) -> next reflector sequence number
    while True:
        data, ancillary, _, peer = sock.recvmsg(65536, 256)
        t2 = ntp_now()
        ttl = 0
        for level, kind, value in ancillary:
            if (level, kind) in ((socket.IPPROTO_IP, IP_TTL), (socket.IPPROTO_IPV6, IPV6_HOPLIMIT)):
                ttl = struct.unpack("i", value[:4])[0] if len(value) >= 4 else value[0]
        minimum = UNAUTH_BYTES if key is None else AUTH_BYTES
        if len(data) < minimum:
            emit({"event": "dropped", "reason": "too-short", "length": len(data)})
            continue
        if key is None:
            seq, ts_s, ts_f, err, ssid = struct.unpack("!IIIHH", data[:16])
        else:
            if not hmac.compare_digest(mac(key, data[:96]), data[96:112]):
                emit({"event": "dropped", "reason": "bad-hmac", "length": len(data)})
                continue
            seq, ts_s, ts_f, err, ssid = struct.unpack("!I12xIIHH", data[:28])
        if args.stateful:
            session = (peer[0], peer[1], ssid)
            own = counters.get(session, 0)
            counters[session] = own + 1
        else:
            own = seq
        tlvs = data[minimum:]
        t3 = ntp_now()
        if key is None:
            reply = struct.pack("!IIIHHIIIIIH2xB3x", own, t3[0], t3[1], 0x0001, ssid, t2[0], t2[1],
                                seq, ts_s, ts_f, err, ttl)
        else:
            body = struct.pack("!I12xIIHH4xII8xI12xIIH6xB15x", own, t3[0], t3[1], 0x0001, ssid,
                               t2[0], t2[1], seq, ts_s, ts_f, err, ttl)
            reply = body + mac(key, body)
        sock.sendto(reply + tlvs, peer)
        emit({"event": "reflected", "peer": f"{peer[0]}:{peer[1]}", "sender_seq": seq,
              "reflector_seq": own, "ssid": ssid, "ttl": ttl, "length": len(data)})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    r = commands.add_parser("reflect")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--host", default="127.0.0.1")
    r.add_argument("--stateful", action="store_true")
    r.add_argument("--key-file")
    s = commands.add_parser("send")
    s.add_argument("--to", required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--key-file")
    s.add_argument("--ssid", type=int, default=0)
    s.add_argument("--interval", type=float, default=0.01)
    s.add_argument("--timeout", type=float, default=1.0)
    s.add_argument("--padding", type=int, default=0)
    s.add_argument("--json", action="store_true", help="JSON lines (the only output format)")
    args = parser.parse_args()
    try:
        reflect(args) if args.command == "reflect" else send(args)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
