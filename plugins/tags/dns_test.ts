import assert from "node:assert/strict";
import { ConfigError } from "@llama/core";
import type { TagResolver } from "../contract.ts";
import { testContext, waitFor } from "../_test_util.ts";
import { dnsTags, ptrName } from "./dns.ts";

/** What the test server does with a query for a name. */
type Answer =
  | { ptr: string; delayMs?: number }
  | "nxdomain"
  | "drop";

/** A DNS server on 127.0.0.1 answering PTR queries from a map, built by hand on a UDP socket. */
interface DnsServer extends AsyncDisposable {
  readonly port: number;
  /** Names queried, in order. */
  readonly queries: string[];
  /** How many answers went out. */
  readonly answered: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `db-1.example.org` as DNS labels: 4 d b - 1 7 e x a m p l e 3 o r g 0. */
function encodeName(name: string): number[] {
  return [...name.split(".").filter((label) => label !== ""), ""].flatMap((label) => {
    const bytes = encoder.encode(label);
    return [bytes.length, ...bytes];
  });
}

/** The query's name and where its question ends (after QTYPE and QCLASS). */
function readQuestion(query: Uint8Array): { name: string; end: number } {
  const labels: string[] = [];
  let offset = 12;
  while (query[offset] !== 0) {
    const length = query[offset];
    labels.push(decoder.decode(query.subarray(offset + 1, offset + 1 + length)));
    offset += 1 + length;
  }
  return { name: labels.join("."), end: offset + 1 + 4 };
}

/** The response to `query`: its ID and question echoed, then one PTR answer or NXDOMAIN. */
function buildResponse(
  query: Uint8Array,
  questionEnd: number,
  ptr: string | undefined,
): Uint8Array {
  const header = [
    query[0],
    query[1], // ID, echoed
    0x81, // QR=1 (response), opcode 0, RD=1
    ptr === undefined ? 0x83 : 0x80, // RA=1; RCODE 3 (NXDOMAIN) or 0
    0,
    1, // QDCOUNT
    0,
    ptr === undefined ? 0 : 1, // ANCOUNT
    0,
    0, // NSCOUNT
    0,
    0, // ARCOUNT (the query's EDNS record is not echoed)
  ];
  const question = [...query.subarray(12, questionEnd)];
  if (ptr === undefined) return new Uint8Array([...header, ...question]);
  const data = encodeName(ptr);
  const answer = [
    0xc0,
    0x0c, // NAME: a pointer to the question's name, at offset 12
    0,
    12, // TYPE PTR
    0,
    1, // CLASS IN
    0,
    0,
    0,
    60, // TTL 60 s
    data.length >> 8,
    data.length & 0xff, // RDLENGTH
    ...data,
  ];
  return new Uint8Array([...header, ...question, ...answer]);
}

function startDnsServer(answers: Record<string, Answer>): DnsServer {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const queries: string[] = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const sends = new Set<Promise<unknown>>();
  let answered = 0;
  const send = (bytes: Uint8Array, to: Deno.Addr) => {
    const sending = socket.send(bytes, to).then(() => answered++).finally(() =>
      sends.delete(sending)
    );
    sends.add(sending);
  };
  const serving = (async () => {
    try {
      for await (const [query, from] of socket) {
        const { name, end } = readQuestion(query);
        queries.push(name);
        const answer = answers[name] ?? "nxdomain";
        if (answer === "drop") continue;
        const response = buildResponse(query, end, answer === "nxdomain" ? undefined : answer.ptr);
        if (answer === "nxdomain" || !answer.delayMs) send(response, from);
        else {
          const timer = setTimeout(() => {
            timers.delete(timer);
            send(response, from);
          }, answer.delayMs);
          timers.add(timer);
        }
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  })();
  return {
    port: (socket.addr as Deno.NetAddr).port,
    queries,
    get answered() {
      return answered;
    },
    async [Symbol.asyncDispose]() {
      for (const timer of timers) clearTimeout(timer);
      await Promise.allSettled(sends);
      socket.close();
      await serving;
    },
  };
}

/** A dns resolver asking `server`, with `raw` options; disposed with the test. */
async function dnsResolver(
  server: DnsServer,
  raw: Record<string, unknown> = {},
): Promise<TagResolver & AsyncDisposable> {
  const options = dnsTags.parseOptions(
    { name_server: `127.0.0.1:${server.port}`, ...raw },
    "tags[1].options",
  );
  return await dnsTags.create(options, testContext("dns")) as TagResolver & AsyncDisposable;
}

const signal = new AbortController().signal;
const V6 = "2001:db8::53";
const V6_PTR = "3.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";

Deno.test("ptrName spells IPv4 (also IPv4-mapped) and IPv6 reverse names", () => {
  assert.equal(ptrName("10.1.2.3"), "3.2.1.10.in-addr.arpa");
  assert.equal(ptrName("::ffff:10.1.2.3"), "3.2.1.10.in-addr.arpa");
  assert.equal(ptrName(V6), V6_PTR);
  assert.equal(
    ptrName("::1"),
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
  );
});

Deno.test("dns tags IPv4 and IPv6 addresses with their PTR name as hostname", async () => {
  await using server = startDnsServer({
    "3.2.1.10.in-addr.arpa": { ptr: "db-1.example.org." },
    [V6_PTR]: { ptr: "ns-1.example.org" },
  });
  await using resolver = await dnsResolver(server);
  assert.deepEqual(await resolver.resolve("10.1.2.3", signal), { hostname: "db-1.example.org" });
  assert.deepEqual(await resolver.resolve(V6, signal), { hostname: "ns-1.example.org" });
  assert.deepEqual(server.queries, ["3.2.1.10.in-addr.arpa", V6_PTR]);
});

Deno.test("dns keeps the first label with short_name, and sets the tag named by tag", async () => {
  await using server = startDnsServer({ "3.2.1.10.in-addr.arpa": { ptr: "db-1.example.org" } });
  await using short = await dnsResolver(server, { short_name: true });
  assert.deepEqual(await short.resolve("10.1.2.3", signal), { hostname: "db-1" });
  await using custom = await dnsResolver(server, { tag: "ptr" });
  assert.deepEqual(await custom.resolve("10.1.2.3", signal), { ptr: "db-1.example.org" });
});

Deno.test("dns answers from its cache within ttl_ms and asks again after", async () => {
  await using server = startDnsServer({ "3.2.1.10.in-addr.arpa": { ptr: "db-1.example.org" } });
  await using resolver = await dnsResolver(server, { ttl_ms: 300 });
  for (let index = 0; index < 5; index++) {
    assert.deepEqual(await resolver.resolve("10.1.2.3", signal), { hostname: "db-1.example.org" });
  }
  assert.equal(server.queries.length, 1);
  await new Promise((resolve) => setTimeout(resolve, 350));
  assert.deepEqual(await resolver.resolve("10.1.2.3", signal), { hostname: "db-1.example.org" });
  assert.equal(server.queries.length, 2);
});

Deno.test("dns sends one query for concurrent lookups of one address", async () => {
  await using server = startDnsServer({
    "3.2.1.10.in-addr.arpa": { ptr: "db-1.example.org", delayMs: 100 },
  });
  await using resolver = await dnsResolver(server);
  const results = await Promise.all(
    Array.from({ length: 10 }, () => resolver.resolve("10.1.2.3", signal)),
  );
  for (const result of results) assert.deepEqual(result, { hostname: "db-1.example.org" });
  assert.equal(server.queries.length, 1);
});

Deno.test("dns gives no tag after timeout_ms when the server does not answer", async () => {
  await using server = startDnsServer({ "3.2.1.10.in-addr.arpa": "drop" });
  const resolver = await dnsResolver(server, { timeout_ms: 200 });
  const started = Date.now();
  assert.deepEqual(await resolver.resolve("10.1.2.3", signal), {});
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 190, `waited ${elapsed} ms, less than timeout_ms`);
  assert.ok(elapsed < 1200, `waited ${elapsed} ms, far past timeout_ms`);
  // The query is still open (the resolver retries for seconds); disposing does not wait for it.
  const disposing = Date.now();
  await resolver[Symbol.asyncDispose]();
  assert.ok(Date.now() - disposing < 1000, `dispose took ${Date.now() - disposing} ms`);
});

Deno.test("dns caches an answer that comes after timeout_ms for the next lookup", async () => {
  await using server = startDnsServer({
    "3.2.1.10.in-addr.arpa": { ptr: "late.example.org", delayMs: 500 },
  });
  await using resolver = await dnsResolver(server, { timeout_ms: 100 });
  assert.deepEqual(await resolver.resolve("10.1.2.3", signal), {});
  await waitFor(() => server.answered === 1, "the late answer");
  await waitFor(
    async () => (await resolver.resolve("10.1.2.3", signal)).hostname === "late.example.org",
    "the late answer to be cached",
    2000,
  );
  assert.equal(server.queries.length, 1);
});

Deno.test("dns caches NXDOMAIN as no tag", async () => {
  await using server = startDnsServer({});
  await using resolver = await dnsResolver(server);
  assert.deepEqual(await resolver.resolve("10.9.9.9", signal), {});
  assert.deepEqual(await resolver.resolve("10.9.9.9", signal), {});
  assert.deepEqual(server.queries, ["9.9.9.10.in-addr.arpa"]);
});

Deno.test("dns does not wait when the scrape is already aborted, and skips non-addresses", async () => {
  await using server = startDnsServer({ "3.2.1.10.in-addr.arpa": { ptr: "db-1.example.org" } });
  await using resolver = await dnsResolver(server, { timeout_ms: 5000 });
  assert.deepEqual(await resolver.resolve("not-an-address", signal), {});
  assert.deepEqual(server.queries, []);
  const started = Date.now();
  assert.deepEqual(await resolver.resolve("10.1.2.3", AbortSignal.abort()), {});
  assert.ok(Date.now() - started < 100);
  // The lookup still went out, and its answer serves the next scrape.
  await waitFor(
    async () => (await resolver.resolve("10.1.2.3", signal)).hostname === "db-1.example.org",
    "the answer",
  );
});

Deno.test("dns stops waiting when the scrape's signal aborts", async () => {
  await using server = startDnsServer({ "3.2.1.10.in-addr.arpa": "drop" });
  await using resolver = await dnsResolver(server, { timeout_ms: 5000 });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  const started = Date.now();
  assert.deepEqual(await resolver.resolve("10.1.2.3", controller.signal), {});
  assert.ok(Date.now() - started < 1000);
});

Deno.test("dns checks its options", () => {
  const parse = (raw: unknown) => dnsTags.parseOptions(raw, "tags[1].options");
  assert.deepEqual(parse(undefined), {
    tag: "hostname",
    ttlMs: 300_000,
    timeoutMs: 500,
    shortName: false,
    nameServer: undefined,
  });
  assert.deepEqual(parse({ name_server: "10.0.0.53" }).nameServer, {
    ipAddr: "10.0.0.53",
    port: 53,
  });
  assert.deepEqual(parse({ name_server: "127.0.0.1:5353" }).nameServer, {
    ipAddr: "127.0.0.1",
    port: 5353,
  });
  assert.deepEqual(parse({ name_server: "[::1]:5353" }).nameServer, { ipAddr: "::1", port: 5353 });
  assert.deepEqual(parse({ name_server: "[::1]" }).nameServer, { ipAddr: "::1", port: 53 });
  assert.deepEqual(parse({ name_server: "2001:db8::53" }).nameServer, {
    ipAddr: "2001:db8::53",
    port: 53,
  });
  for (
    const bad of ["dns.example.org", "127.0.0.1:99999", "127.0.0.1:0", "::1:53:x", "[nope]:53"]
  ) {
    assert.throws(
      () => parse({ name_server: bad }),
      (error: unknown) =>
        error instanceof ConfigError && error.path === "tags[1].options.name_server" &&
        error.message.includes(
          `dns: expected name_server as ip, ip:port or [ipv6]:port, got "${bad}"`,
        ),
      bad,
    );
  }
  assert.throws(
    () => parse({ timeout_ms: 0 }),
    /tags\[1\]\.options\.timeout_ms: dns: expected a number from 1 to 60000, got 0/,
  );
  assert.throws(() => parse({ short_name: "yes" }), /short_name: dns: expected true or false/);
  assert.throws(() => parse({ ttl: 5 }), /unknown option "ttl"; known: name_server, tag, ttl_ms/);
});
