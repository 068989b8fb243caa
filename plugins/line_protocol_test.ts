import assert from "node:assert/strict";
import type { Point } from "./contract.ts";
import { lineProtocolBatchProblem, toLineProtocol } from "./line_protocol.ts";

const TIME = Date.UTC(2025, 10, 25, 17, 0, 0, 789); // 1764090000789 ms

function point(overrides: Partial<Point> = {}): Point {
  return { measurement: "raw_stats", tags: {}, fields: { loss: 0 }, time: TIME, ...overrides };
}

Deno.test("toLineProtocol formats points as the original scraper wrote them", async () => {
  // The original wrote no timestamp; ours is the interval's start. The rest must match byte for
  // byte, tags and fields given in any order.
  const text = await Deno.readTextFile(
    new URL("../tests/fixtures/original/scraper_v1_write.txt", import.meta.url),
  );
  const lines = text.split("\n").filter((line) => line !== "" && !line.startsWith("#"));
  assert.equal(lines.length, 3);
  for (const line of lines) {
    const [series, fieldText] = line.split(" ");
    const [measurement, ...tagPairs] = series.split(",");
    const tags = Object.fromEntries(tagPairs.map((pair) => pair.split("=")).reverse());
    const fields = Object.fromEntries(
      fieldText.split(",").map((pair) => pair.split("=")).map((
        [key, value],
      ) => [key, Number(value)])
        .reverse(),
    );
    assert.equal(
      toLineProtocol([{ measurement, tags, fields, time: TIME }], "s"),
      `${line} 1764090000`,
    );
  }
  assert.equal(
    toLineProtocol([
      point({
        tags: { src_ip: "::", dst_region: "east", dst_ip: "127.0.0.2", dst_hostname: "other" },
        fields: { sent: 100, rtt: 0.134507, lost: 0, loss: 0 },
      }),
    ], "s"),
    "raw_stats,dst_hostname=other,dst_ip=127.0.0.2,dst_region=east,src_ip=:: " +
      "loss=0,lost=0,rtt=0.134507,sent=100 1764090000",
  );
});

Deno.test("toLineProtocol writes floats as JavaScript prints them, without a type suffix", () => {
  assert.equal(
    toLineProtocol(
      [point({ fields: { a: 100, b: 0.1, c: -2.5, d: 1e-7, e: 12345678.9, f: -0 } })],
      "s",
    ),
    "raw_stats a=100,b=0.1,c=-2.5,d=1e-7,e=12345678.9,f=0 1764090000",
  );
});

Deno.test("toLineProtocol escapes measurement, tag and field special characters", () => {
  assert.equal(
    toLineProtocol([
      point({
        measurement: "raw stats,v2=x",
        tags: { "a key": "a value", "k,=": "v,= ", "line": "one\ntwo" },
        fields: { "field key=,": 1 },
      }),
    ], "s"),
    String
      .raw`raw\ stats\,v2=x,a\ key=a\ value,k\,\==v\,\=\ ,line=one\ntwo field\ key\=\,=1 1764090000`,
  );
});

Deno.test("toLineProtocol sorts tags and fields by key", () => {
  assert.equal(
    toLineProtocol([point({ tags: { z: "1", a: "2", m: "3" }, fields: { y: 1, b: 2 } })], "s"),
    "raw_stats,a=2,m=3,z=1 b=2,y=1 1764090000",
  );
});

Deno.test("toLineProtocol leaves out empty tag values", () => {
  assert.equal(
    toLineProtocol([point({ tags: { dst_ip: "10.0.0.1", dst_hostname: "" } })], "s"),
    "raw_stats,dst_ip=10.0.0.1 loss=0 1764090000",
  );
});

Deno.test("toLineProtocol writes timestamps in seconds or milliseconds, rounded down", () => {
  assert.equal(toLineProtocol([point()], "s"), "raw_stats loss=0 1764090000");
  assert.equal(toLineProtocol([point()], "ms"), "raw_stats loss=0 1764090000789");
  assert.equal(
    toLineProtocol([point({ time: TIME + 0.6 })], "ms"),
    "raw_stats loss=0 1764090000789",
  );
  assert.equal(toLineProtocol([point({ time: 999 })], "s"), "raw_stats loss=0 0");
});

Deno.test("toLineProtocol skips non-finite fields, and points left with no field", () => {
  assert.equal(
    toLineProtocol([
      point({ fields: { rtt: NaN, loss: 100, jitter: Infinity, max: -Infinity } }),
      point({ measurement: "empty", fields: {} }),
      point({ measurement: "all_nan", fields: { rtt: NaN } }),
      point({ measurement: "last", fields: { sent: 1 } }),
    ], "s"),
    "raw_stats loss=100 1764090000\nlast sent=1 1764090000",
  );
  assert.equal(toLineProtocol([point({ fields: {} })], "s"), "");
  assert.equal(toLineProtocol([], "s"), "");
});

Deno.test("toLineProtocol writes one line per point, in order", () => {
  const points = [1, 2, 3].map((sent) => point({ fields: { sent }, time: TIME + sent * 1000 }));
  assert.equal(
    toLineProtocol(points, "s"),
    "raw_stats sent=1 1764090001\nraw_stats sent=2 1764090002\nraw_stats sent=3 1764090003",
  );
});

Deno.test("line protocol refuses what it cannot carry: line breaks, control characters, a trailing backslash, empty keys", () => {
  const cases: [Partial<Point>, RegExp][] = [
    [
      { tags: { dst_hostname: "evil\u0000host" } },
      /tag dst_hostname's value .* U\+0000 at offset 4/,
    ],
    [{ tags: { dst_hostname: "a\nraw_stats loss=0" } }, /U\+000A/],
    [{ tags: { dst_hostname: "a\rb" } }, /U\+000D/],
    [{ tags: { rack: "r1\\" } }, /tag rack's value "r1\\\\" ends with a backslash/],
    [{ tags: { "rack\\": "r1" } }, /tag key "rack\\\\" ends with a backslash/],
    [{ tags: { "": "r1" } }, /tag key "" is empty/],
    [{ fields: { "lo\nss": 1 } }, /field key .* U\+000A/],
    [{ measurement: "raw\u007fstats" }, /measurement .* U\+007F/],
    [{ measurement: "#raw_stats" }, /measurement "#raw_stats" starts with #/],
  ];
  for (const [overrides, expected] of cases) {
    const problem = lineProtocolBatchProblem([point(), point(overrides)]);
    assert.match(problem ?? "", expected, JSON.stringify(overrides));
    assert.match(problem!, /^the point "#?raw.*stats" at 2025-11-25T17:00:00.789Z/);
  }
  // What it can carry: escaped spaces, commas and equals signs, inner backslashes, empty values.
  assert.equal(
    lineProtocolBatchProblem([point({ tags: { a: "x y,z=1", b: "c:\\d", c: "" } })]),
    undefined,
  );
});
