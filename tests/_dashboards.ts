// Reading the Grafana dashboards and alerting rules under deploy/: every PromQL expression they
// hold, with the dashboards' variables filled in the way Grafana would.
import { parse } from "yaml";

/** The deploy/ folder. */
export const DEPLOY = new URL("../deploy/", import.meta.url);

/** One PromQL expression and where it comes from (`llama-fleet.json: panel "…" A`). */
export interface Query {
  /** Dashboard file and panel title with the target's refId, or rule file and rule name. */
  where: string;
  /** The expression as written. */
  expr: string;
}

interface Panel {
  title: string;
  targets?: { refId: string; expr: string }[];
  panels?: Panel[];
}

/** A dashboard's variables as Grafana provisioning JSON has them. */
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
}

/** A dashboard: its file name, variables and every panel query. */
export interface Dashboard {
  /** File name under deploy/grafana/. */
  file: string;
  /** The `templating.list` entries. */
  variables: Variable[];
  /** Every panel target's expression, rows' panels included. */
  queries: Query[];
}

/** Reads every deploy/grafana/*.json dashboard. */
export async function readDashboards(): Promise<Dashboard[]> {
  const directory = new URL("grafana/", DEPLOY);
  const dashboards: Dashboard[] = [];
  for await (const entry of Deno.readDir(directory)) {
    if (!entry.isFile || !entry.name.endsWith(".json")) continue;
    const json = JSON.parse(await Deno.readTextFile(new URL(entry.name, directory))) as {
      templating?: { list: Variable[] };
      panels: Panel[];
    };
    const queries: Query[] = [];
    const walk = (panels: Panel[]) => {
      for (const panel of panels) {
        for (const target of panel.targets ?? []) {
          queries.push({
            where: `${entry.name}: "${panel.title}" ${target.refId}`,
            expr: target.expr,
          });
        }
        walk(panel.panels ?? []);
      }
    };
    walk(json.panels);
    dashboards.push({ file: entry.name, variables: json.templating?.list ?? [], queries });
  }
  return dashboards.sort((a, b) => a.file.localeCompare(b.file));
}

/** Every alerting or recording rule expression in deploy/prometheus/*.rules.yml. */
export async function readRuleQueries(): Promise<Query[]> {
  const directory = new URL("prometheus/", DEPLOY);
  const queries: Query[] = [];
  for await (const entry of Deno.readDir(directory)) {
    if (!entry.isFile || !entry.name.endsWith(".rules.yml")) continue;
    const file = parse(await Deno.readTextFile(new URL(entry.name, directory))) as {
      groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
    };
    for (const rule of file.groups.flatMap((group) => group.rules)) {
      queries.push({ where: `${entry.name}: ${rule.alert ?? rule.record}`, expr: rule.expr });
    }
  }
  return queries;
}

/** The llama metric names an expression reads (`llama_path_loss_ratio`, …). */
export function llamaMetricNames(expr: string): string[] {
  return [...new Set(expr.match(/\bllama_[a-zA-Z0-9_:]+/g) ?? [])];
}

/** Grafana's built-in interval variables, as a 1-second scrape makes them. */
const BUILT_IN: Record<string, string> = {
  __rate_interval: "15s",
  __interval: "5s",
  __range: "1m",
};

/**
 * Fills `$name` and `${name}` in `expr` from `values` and Grafana's built-ins; throws naming the
 * variable when one is not known, so a typo in a panel fails instead of querying `$typo`.
 */
export function fillVariables(expr: string, values: Record<string, string>, where = ""): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (_match, braced?: string, bare?: string) => {
    const name = (braced ?? bare)!;
    const value = values[name] ?? BUILT_IN[name];
    if (value === undefined) throw new Error(`${where}: unknown variable $${name} in ${expr}`);
    return value;
  });
}

/**
 * Values for a dashboard's variables: a textbox's default, and for `label_values(selector,
 * label)` the first value `labelValues` finds (in order, so one variable can use another).
 */
export async function variableValues(
  dashboard: Dashboard,
  labelValues: (selector: string, label: string) => Promise<string[]>,
): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (const variable of dashboard.variables) {
    const query = typeof variable.query === "string" ? variable.query : variable.query.query;
    if (variable.type === "datasource") continue;
    if (variable.type === "textbox" || variable.type === "constant" || variable.type === "custom") {
      values[variable.name] = query.split(",")[0].trim();
      continue;
    }
    const match = /^label_values\((.+),\s*(\w+)\)$/.exec(query);
    if (variable.type !== "query" || match === null) {
      throw new Error(
        `${dashboard.file}: variable ${variable.name} (${variable.type}) not understood`,
      );
    }
    const found = await labelValues(fillVariables(match[1], values, dashboard.file), match[2]);
    if (found.length === 0) {
      throw new Error(`${dashboard.file}: variable ${variable.name} has no value (${query})`);
    }
    values[variable.name] = found.sort()[0];
  }
  return values;
}
