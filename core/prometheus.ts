/**
 * Prometheus text exposition (format 0.0.4), written by every llama program's `/metrics`.
 *
 * @module
 */

/** One sample of a metric family. */
export interface MetricSample {
  /** Label names and values. */
  labels?: Record<string, string>;
  /** The value. */
  value: number;
  /** A suffix for the sample name, such as `_bucket` (rarely needed). */
  suffix?: string;
}

/** A metric family: its name, help, type and samples. */
export interface MetricFamily {
  /** Name, following Prometheus conventions (`llama_reflector_answers_sent_total`). */
  name: string;
  /** One line of help. */
  help: string;
  /** Metric type. */
  type: "counter" | "gauge" | "summary" | "histogram" | "untyped";
  /** The samples. */
  samples: MetricSample[];
}

/** The content type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * Formats metric families as Prometheus text.
 *
 * @example
 * ```ts
 * import { formatPrometheus } from "@llama/core";
 * const text = formatPrometheus([{
 *   name: "llama_up", help: "Whether it is up.", type: "gauge",
 *   samples: [{ labels: { host: 'a"b' }, value: 1 }],
 * }]);
 * console.assert(text.includes('llama_up{host="a\\"b"} 1'));
 * ```
 */
export function formatPrometheus(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = sample.labels === undefined ? [] : Object.entries(sample.labels);
      const labelText = labels.length === 0
        ? ""
        : `{${
          labels.map(([name, value]) => `${sanitizeLabelName(name)}="${escapeLabel(value)}"`).join(
            ",",
          )
        }}`;
      lines.push(`${family.name}${sample.suffix ?? ""}${labelText} ${formatValue(sample.value)}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** Turns any string into a valid Prometheus label name (`dst-region` → `dst_region`). */
export function sanitizeLabelName(name: string): string {
  const cleaned = name.replace(/[^a-zA-Z0-9_]/g, "_");
  return /^[0-9]/.test(cleaned) ? `_${cleaned}` : cleaned;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}
