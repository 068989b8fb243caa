"""A minimal STAMP Session-Reflector (RFC 8762 section 4.3, SSID of RFC 8972 section 3).

Written from the RFC text, independently of llama and of bench/tools/stampblast.c, to check
stampblast against. IPv4 only. Usage:

    python3 _stamp_reflector_reference.py [--port N] [--mode stateless|stateful] [--key HEX]
        [--reply-key HEX] [--ignore-every N] [--unanswered-every N]

Prints `reflecting on 127.0.0.1:PORT` when ready; answers until SIGTERM. t2 is the kernel's
receive timestamp (SO_TIMESTAMPNS); the sender's TTL comes from IP_RECVTTL. With --key it runs
in authenticated mode: requests whose HMAC (HMAC-SHA-256 of the first 96 octets, truncated to
16) is wrong are dropped, and replies carry their own. Stateful mode numbers the replies of each
session (source address and port) from 0 in the order it received them.
"""

import argparse
import hashlib
import hmac
import signal
import socket
import struct
import sys
import time

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
NTP_UNIX_OFFSET = 2208988800
UNAUTHENTICATED_LENGTH = 44
AUTHENTICATED_LENGTH = 112
# S = 0 (not synchronized), Z = 0 (NTP format), Scale 0, Multiplier 1 (RFC 4656 section 4.1.2)
ERROR_ESTIMATE = 0x0001


def ntp_timestamp(nanoseconds_since_1970):
    seconds, rest = divmod(nanoseconds_since_1970, 1_000_000_000)
    return ((seconds + NTP_UNIX_OFFSET) << 32) | ((rest << 32) // 1_000_000_000)


def truncated_hmac(key, data):
    return hmac.new(key, data[:96], hashlib.sha256).digest()[:16]


def reply_unauthenticated(request, sequence, t2, t3, ttl):
    sender_sequence, sender_timestamp, sender_error, ssid = struct.unpack_from("!IQHH", request, 0)
    return struct.pack(
        "!IQHHQIQHHB3x",
        sequence, t3, ERROR_ESTIMATE, ssid, t2, sender_sequence, sender_timestamp,
        sender_error, 0, ttl,
    )


def reply_authenticated(request, sequence, t2, t3, ttl, key):
    sender_sequence, = struct.unpack_from("!I", request, 0)
    sender_timestamp, sender_error, ssid = struct.unpack_from("!QHH", request, 16)
    body = struct.pack(
        "!I12xQHH4xQ8xI12xQH6xB15x",
        sequence, t3, ERROR_ESTIMATE, ssid, t2, sender_sequence, sender_timestamp,
        sender_error, ttl,
    )
    assert len(body) == 96
    return body + truncated_hmac(key, body)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", choices=["stateless", "stateful"], default="stateless")
    parser.add_argument("--key", help="the HMAC key, in hex: authenticated mode")
    # A reflector that signs its replies with another key than it checks requests with: forged
    # replies, which a sender must reject.
    parser.add_argument("--reply-key", help="sign replies with this key (hex) instead of --key")
    # Loss on purpose, to check a sender's forward/backward split: every Nth request is ignored
    # before it is counted (lost on the way in), or counted but not answered (lost on the way out).
    parser.add_argument("--ignore-every", type=int, default=0)
    parser.add_argument("--unanswered-every", type=int, default=0)
    options = parser.parse_args()
    key = bytes.fromhex(options.key) if options.key else None
    reply_key = bytes.fromhex(options.reply_key) if options.reply_key else key
    length = AUTHENTICATED_LENGTH if key else UNAUTHENTICATED_LENGTH

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
    sock.bind(("127.0.0.1", options.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"reflecting on 127.0.0.1:{sock.getsockname()[1]}", flush=True)

    sessions = {}
    arrived = 0
    while True:
        request, ancillary, _flags, sender = sock.recvmsg(2048, 256)
        t2 = None
        ttl = 0
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                seconds, nanoseconds = struct.unpack("qq", data[:16])
                t2 = seconds * 1_000_000_000 + nanoseconds
            elif level == socket.IPPROTO_IP and kind == socket.IP_TTL:
                ttl = struct.unpack("i", data[:4])[0]
        if t2 is None:
            t2 = time.time_ns()
        if len(request) < length:
            continue
        if key and not hmac.compare_digest(truncated_hmac(key, request), request[96:112]):
            continue
        arrived += 1
        if options.ignore_every and arrived % options.ignore_every == 0:
            continue
        if options.mode == "stateful":
            sequence = sessions.get(sender, 0)
            sessions[sender] = sequence + 1
        else:
            sequence, = struct.unpack_from("!I", request, 0)
        t3 = ntp_timestamp(time.time_ns())
        if key:
            reply = reply_authenticated(request, sequence, ntp_timestamp(t2), t3, ttl, reply_key)
        else:
            reply = reply_unauthenticated(request, sequence, ntp_timestamp(t2), t3, ttl)
        if options.unanswered_every and arrived % options.unanswered_every == 0:
            continue
        sock.sendto(reply, sender)


if __name__ == "__main__":
    main()
