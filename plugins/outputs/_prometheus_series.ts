// Points as Prometheus series: names in base units with `_ratio` and `_seconds`, labels from the
// points' tags, samples at the points' times. Per-path series can be kept for lossy paths only,
// or left out, so that a large fleet writes mostly the per-group aggregates.
import type { Point } from "../contract.ts";
import type { RemoteLabel, RemoteSeries } from "./_remote_write_codec.ts";

/** Which per-path (and per-flow) series to write: every path's, lossy paths' only, or none. */
export type PathSeries = "all" | "lossy" | "none";

/** How points become series. */
export interface SeriesOptions {
  /** Which `raw_stats` and `flow_stats` points to write. */
  readonly paths: PathSeries;
  /** Labels added to every series that lacks them (like Prometheus's `external_labels`). */
  readonly labels: Readonly<Record<string, string>>;
}

/** The measurement of the per-group aggregates (see `_group_aggregates.ts`). */
export const GROUP_MEASUREMENT = "llama_group_stats";

/** A field of a path or flow point: the series' name after the prefix, a scale, a label. */
interface FieldSeries {
  readonly suffix: string;
  readonly scale: number;
  readonly quantile?: string;
}

/** `raw_stats` and `flow_stats` fields: percent becomes a ratio, milliseconds seconds. */
const PATH_FIELDS: Readonly<Record<string, FieldSeries>> = {
  loss: { suffix: "loss_ratio", scale: 0.01 },
  sent: { suffix: "probes_sent", scale: 1 },
  lost: { suffix: "probes_lost", scale: 1 },
  late: { suffix: "probes_late", scale: 1 },
  duplicates: { suffix: "probes_duplicated", scale: 1 },
  reordered: { suffix: "probes_reordered", scale: 1 },
  rtt: { suffix: "rtt_mean_seconds", scale: 0.001 },
  rtt_min: { suffix: "rtt_min_seconds", scale: 0.001 },
  rtt_max: { suffix: "rtt_max_seconds", scale: 0.001 },
  rtt_stddev: { suffix: "rtt_stddev_seconds", scale: 0.001 },
  rtt_p50: { suffix: "rtt_seconds", scale: 0.001, quantile: "0.5" },
  rtt_p90: { suffix: "rtt_seconds", scale: 0.001, quantile: "0.9" },
  rtt_p99: { suffix: "rtt_seconds", scale: 0.001, quantile: "0.99" },
  jitter: { suffix: "jitter_seconds", scale: 0.001 },
};

/** Series name prefixes of the measurements written per path. */
const PATH_PREFIXES: Readonly<Record<string, string>> = {
  raw_stats: "llama_path_",
  flow_stats: "llama_flow_",
};

/**
 * A Prometheus label name for a tag: characters outside `[a-zA-Z0-9_]` become `_`, a leading
 * digit gets a `_` before it, and a name starting with `__` (reserved) gets `tag` before it.
 */
export function labelName(tag: string): string {
  let name = tag.replace(/[^a-zA-Z0-9_]/g, "_");
  if (/^[0-9]/.test(name)) name = `_${name}`;
  if (name.startsWith("__")) name = `tag${name}`;
  return name;
}

/** A metric name part: like a label name, `__` excepted (names never start with a field). */
function metricPart(text: string): string {
  return text.replace(/[^a-zA-Z0-9_]/g, "_");
}

/** Whether a path or flow point lost probes in its interval. */
export function isLossy(point: Point): boolean {
  return (point.fields.lost ?? 0) > 0 || (point.fields.loss ?? 0) > 0;
}

/**
 * The series for `points`: one per name and label set, its samples oldest first. Path and flow
 * points follow `options.paths`; other measurements (`llama_group_stats`, `llama_suspect`,
 * `llama_path_change`, …) become `llama_<measurement>_<field>` (without a doubled `llama_`,
 * `llama_group_stats` as `llama_group_<field>`). Non-finite fields and empty tags are left out.
 */
export function toRemoteSeries(points: readonly Point[], options: SeriesOptions): RemoteSeries[] {
  const series = new Map<string, RemoteSeries>();
  for (const point of points) {
    const pathPrefix = PATH_PREFIXES[point.measurement];
    if (pathPrefix !== undefined) {
      if (options.paths === "none" || (options.paths === "lossy" && !isLossy(point))) continue;
    }
    const prefix = pathPrefix ?? otherPrefix(point.measurement);
    const tags = tagLabels(point, options.labels);
    for (const [field, value] of Object.entries(point.fields)) {
      if (!Number.isFinite(value)) continue;
      const known = pathPrefix === undefined ? undefined : PATH_FIELDS[field];
      const name = prefix + (known?.suffix ?? metricPart(field));
      const labels: RemoteLabel[] = [{ name: "__name__", value: name }];
      for (const label of tags) {
        if (label.name !== "quantile" || !known?.quantile) labels.push(label);
      }
      if (known?.quantile !== undefined) labels.push({ name: "quantile", value: known.quantile });
      labels.sort(byName);
      const key = labels.map((label) => `${label.name}\u0000${label.value}`).join("\u0000");
      let entry = series.get(key);
      if (entry === undefined) series.set(key, entry = { labels, samples: [] });
      entry.samples.push({ value: value * (known?.scale ?? 1), timestamp: point.time });
    }
  }
  const result = [...series.values()];
  // Prometheus refuses a series' samples out of order within one request.
  for (const entry of result) entry.samples.sort((a, b) => a.timestamp - b.timestamp);
  return result;
}

function otherPrefix(measurement: string): string {
  if (measurement === GROUP_MEASUREMENT) return "llama_group_";
  const name = metricPart(measurement);
  return name.startsWith("llama_") ? `${name}_` : `llama_${name}_`;
}

/**
 * A point's tags as labels, then the extra labels it lacks; the first of two tags that sanitize
 * to one name (in order of their original names) wins, so no series has a label twice.
 */
function tagLabels(point: Point, extra: Readonly<Record<string, string>>): RemoteLabel[] {
  const labels = new Map<string, string>();
  for (const tag of Object.keys(point.tags).sort()) {
    const value = point.tags[tag];
    const name = labelName(tag);
    if (value === "" || labels.has(name)) continue;
    labels.set(name, value);
  }
  for (const [name, value] of Object.entries(extra)) {
    if (!labels.has(name) && value !== "") labels.set(name, value);
  }
  return [...labels].map(([name, value]) => ({ name, value }));
}

function byName(a: RemoteLabel, b: RemoteLabel): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
