import assert from "node:assert/strict";
import { ConfigError } from "@llama/core";
import { parseScraperConfig } from "./config.ts";

const COLLECTORS = Array.from({ length: 60 }, (_, index) => `collector-${index}:5000`);

function shareOf(identity: string, members: string[], replicas = 1): string[] {
  const config = parseScraperConfig(
    `collectors: [${COLLECTORS.join(", ")}]\n` +
      `sharding: { identity: ${identity}, members: [${
        members.join(", ")
      }], replicas: ${replicas} }\n`,
  );
  assert.equal(config.sharding?.of, COLLECTORS.length);
  return config.collectors.map((collector) => collector.name);
}

Deno.test("sharded scrapers each scrape their share, every collector by `replicas` of them", () => {
  const members = ["s1", "s2", "s3"];
  for (const replicas of [1, 2, 3]) {
    const counts = new Map<string, number>();
    for (const member of members) {
      const share = shareOf(member, members, replicas);
      assert.ok(share.length < COLLECTORS.length || replicas === 3);
      for (const name of share) counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    assert.equal(counts.size, COLLECTORS.length);
    assert.ok([...counts.values()].every((count) => count === replicas));
  }
});

Deno.test("a scraper leaving the member list moves only its collectors", () => {
  const before = ["s1", "s2", "s3"].map((member) => shareOf(member, ["s1", "s2", "s3"]));
  const after = ["s1", "s2"].map((member) => shareOf(member, ["s1", "s2"]));
  for (const index of [0, 1]) {
    for (const name of before[index]) assert.ok(after[index].includes(name), `${name} moved`);
  }
  const taken = after.flat().filter((name) =>
    !before[0].includes(name) && !before[1].includes(name)
  );
  assert.deepEqual(taken.sort(), [...before[2]].sort());
});

Deno.test("a scraper whose identity is not a member is a config error", () => {
  assert.throws(
    () => parseScraperConfig("collectors: [a:5000]\nsharding: { identity: s9, members: [s1] }\n"),
    (error) =>
      error instanceof ConfigError &&
      /sharding\.identity: .*"s9" is not in members/.test(error.message),
  );
  assert.throws(
    () => parseScraperConfig("collectors: [a:5000]\nsharding: { members: [s1] }\n"),
    (error) => error instanceof ConfigError && /missing "identity"/.test(error.message),
  );
});
