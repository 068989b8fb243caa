// The source ports a reflector never answers: no prober sends from them, and an answer sent to
// them would reach a service that answers back (an echo loop) or be used to aim the reflector at
// a victim (amplification). The reflector's own port is always among them.

/**
 * The default list, as `--refuse-source-ports` takes it: 8100 (LLAMA reflectors, whose answers
 * must not be answered) and the UDP services that answer whatever they receive or are common
 * amplification targets: echo 7, systat 11, daytime 13, qotd 17, chargen 19, time 37, DNS 53,
 * TFTP 69, rpcbind 111, NTP 123, NetBIOS 137–138, SNMP 161–162, CLDAP 389, SLP 427, QUIC 443,
 * IKE 500, RIP 520, MS-SQL 1434, SSDP 1900, STUN 3478, WS-Discovery 3702, IPsec NAT-T 4500,
 * SIP 5060, mDNS 5353, CoAP 5683, Ubiquiti discovery 10001, memcached 11211.
 */
export const DEFAULT_REFUSED_SOURCE_PORTS: string =
  "7,11,13,17,19,37,53,69,111,123,137-138,161-162,389,427,443,500,520,1434,1900,3478,3702," +
  "4500,5060,5353,5683,8100,10001,11211";

/**
 * Reads a list of ports and ranges (`7,19,1900-1910`; `none` for an empty list). Throws a
 * `RangeError` naming `where` and the part that is not a port or range.
 */
export function parseSourcePorts(text: string, where: string): number[] {
  const trimmed = text.trim();
  if (trimmed === "none" || trimmed === "") return [];
  const ports: number[] = [];
  for (const part of trimmed.split(",")) {
    const match = /^\s*(\d{1,5})(?:\s*-\s*(\d{1,5}))?\s*$/.exec(part);
    const first = Number(match?.[1]);
    const last = match?.[2] === undefined ? first : Number(match[2]);
    if (match === null || first < 1 || last > 65535 || last < first) {
      throw new RangeError(
        `${where} takes ports 1..65535 and ranges such as 1900-1910, separated by commas, or ` +
          `none; got "${part.trim()}" in "${text}"`,
      );
    }
    for (let port = first; port <= last; port++) ports.push(port);
  }
  return ports;
}

/** A lookup table of 65,536 entries: 1 for a refused port. Port 0 (no sender's) is always refused. */
export function refusedPortTable(ports: readonly number[], ownPort: number): Uint8Array {
  const table = new Uint8Array(65536);
  for (const port of ports) table[port] = 1;
  table[0] = 1;
  table[ownPort] = 1;
  return table;
}
