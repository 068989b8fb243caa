/**
 * Number formatting for the collector benchmark's progress lines and report.
 *
 * @module
 */

/** `20k` for 20,000. */
export function formatRate(rate: number): string {
  return rate >= 1000 ? `${rate / 1000}k` : `${rate}`;
}

/** A number with thousands separators and `digits` decimals, or `n/a`. */
export function formatNumber(value: number | null, digits = 0): string {
  return value === null || !Number.isFinite(value) ? "n/a" : value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** A fraction as a percentage, with a third decimal below 1%. */
export function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction === 0 || fraction >= 0.01 ? 2 : 3)}%`;
}

/** KiB as MiB, one decimal. */
export function formatMebibytes(kilobytes: number): string {
  return `${formatNumber(kilobytes / 1024, 1)} MiB`;
}

/** Bytes as KiB, or as MiB from 1 MiB. */
export function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${formatNumber(bytes / 1024 / 1024, 1)} MiB`
    : `${formatNumber(bytes / 1024, 1)} KiB`;
}

/** A number with its sign, `+` or `−`. */
export function formatSigned(value: number, digits = 1): string {
  return `${value >= 0 ? "+" : "−"}${formatNumber(Math.abs(value), digits)}`;
}

/** The fraction of `sent` lost; 1 when nothing was sent. */
export function lossFraction(lost: number, sent: number): number {
  return sent === 0 ? 1 : lost / sent;
}
