// Colour levels and number formats shared by the matrix and its detail panel. Levels go from 0
// (fine) to 4 (worst); each is a CSS class (`level-N`) whose colours the stylesheet sets per theme.

/** Loss thresholds in percent: any loss is level 1; from 1%, 5% and 50%, levels 2 to 4. */
export const LOSS_STEPS = [1, 5, 50];
/** RTT thresholds as multiples of the median cell: levels 1 to 4. */
export const RTT_STEPS = [1.5, 2, 4, 10];

/** What each metric reads from a cell, and how it is shown. */
export const METRICS = {
  loss: { field: "lossPercent", label: "Loss", format: percent },
  p50: { field: "rttP50", label: "RTT p50", format: milliseconds },
  p99: { field: "rttP99", label: "RTT p99", format: milliseconds },
};

/** Level of a loss percentage: 0 for none, 4 for 50% and more. */
export function lossLevel(lossPercent) {
  if (!(lossPercent > 0)) return 0;
  return 1 + LOSS_STEPS.filter((step) => lossPercent >= step).length;
}

/** Level of an RTT against the median of the cells shown (RTT is only bad relative to its peers). */
export function rttLevel(value, median) {
  if (!(median > 0)) return 0;
  return RTT_STEPS.filter((step) => value > median * step).length;
}

/** The median of the numbers, ignoring null; null when there is none. */
export function median(values) {
  const sorted = values.filter((value) => value !== null && value !== undefined)
    .sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const middle = (sorted.length - 1) / 2;
  return (sorted[Math.floor(middle)] + sorted[Math.ceil(middle)]) / 2;
}

/** `12.5%`, `0.04%`, `100%`. */
export function percent(value) {
  if (value === null || value === undefined) return "–";
  if (value === 0 || value >= 10) return `${Math.round(value * 10) / 10}%`;
  return `${Number(value.toPrecision(2))}%`;
}

/** `0.31 ms`, `12.4 ms`, `1.25 s`. */
export function milliseconds(value) {
  if (value === null || value === undefined) return "–";
  if (value >= 1000) return `${Number((value / 1000).toPrecision(3))} s`;
  return `${Number(value.toPrecision(value < 1 ? 2 : 3))} ms`;
}

/** A group value as shown: `(none)` for paths without the tag. */
export function groupLabel(value) {
  return value === "" ? "(none)" : value;
}
