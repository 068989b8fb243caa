// The alerting rules under deploy/prometheus pass `promtool check rules`, and their unit tests
// (`*_test.yml`) pass `promtool test rules`: each alert has a case where it fires and one where
// it does not.
import assert from "node:assert/strict";
import { parse } from "yaml";
import { assertRequirement, requirement } from "./_requirements.ts";
import { DEPLOY, readRuleQueries } from "./_dashboards.ts";

const needs = requirement({ commands: ["promtool"] });
const RULES = new URL("prometheus/", DEPLOY);

async function filesEnding(suffix: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(RULES)) {
    if (entry.isFile && entry.name.endsWith(suffix)) files.push(entry.name);
  }
  return files.sort();
}

async function promtool(args: string[]): Promise<void> {
  const { code, stdout, stderr } = await new Deno.Command("promtool", {
    args,
    cwd: RULES,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  assert.equal(
    code,
    0,
    `promtool ${args.join(" ")}:\n${decoder.decode(stdout)}${decoder.decode(stderr)}`,
  );
}

Deno.test({
  name: "the alerting rules pass promtool check rules",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    const files = await filesEnding(".rules.yml");
    assert.ok(files.length > 0, "no deploy/prometheus/*.rules.yml");
    await promtool(["check", "rules", ...files]);
  },
});

Deno.test({
  name: "the alerting rules pass their promtool unit tests",
  ignore: needs.ignore,
  async fn() {
    assertRequirement(needs);
    const files = await filesEnding("_test.yml");
    assert.ok(files.length > 0, "no deploy/prometheus/*_test.yml");
    await promtool(["test", "rules", ...files]);
  },
});

Deno.test("every alert has a promtool case where it fires and one where it does not", async () => {
  const cases = new Map<string, { fires: number; silent: number }>();
  for (const file of await filesEnding("_test.yml")) {
    const tests = parse(await Deno.readTextFile(new URL(file, RULES))) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
    };
    for (const test of tests.tests.flatMap((group) => group.alert_rule_test ?? [])) {
      const count = cases.get(test.alertname) ?? { fires: 0, silent: 0 };
      if ((test.exp_alerts ?? []).length > 0) count.fires++;
      else count.silent++;
      cases.set(test.alertname, count);
    }
  }
  const alerts = (await readRuleQueries()).map((rule) => rule.where.split(": ")[1]);
  assert.ok(alerts.length >= 10, `only ${alerts.length} rules`);
  const untested = alerts.filter((alert) => {
    const count = cases.get(alert);
    return count === undefined || count.fires === 0 || count.silent === 0;
  });
  assert.deepEqual(untested, [], "alerts without both a firing and a silent case");
});
