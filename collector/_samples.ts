/**
 * Sample arithmetic on ranges of typed arrays, allocation-free for the summarizer's hot loops.
 *
 * @module
 */

/**
 * Writes min, mean, max, stddev, p50, p90 and p99 of `sorted[from..to)` to `out` from `offset`;
 * false (and nothing written) when the range is empty.
 */
export function writeRttStatistics(
  sorted: ArrayLike<number>,
  from: number,
  to: number,
  out: Float32Array | Float64Array,
  offset: number,
): boolean {
  const count = to - from;
  if (count <= 0) return false;
  let sum = 0;
  for (let index = from; index < to; index++) sum += sorted[index];
  const mean = sum / count;
  let squares = 0;
  for (let index = from; index < to; index++) squares += (sorted[index] - mean) ** 2;
  out[offset] = sorted[from];
  out[offset + 1] = mean;
  out[offset + 2] = sorted[to - 1];
  out[offset + 3] = count > 1 ? Math.sqrt(squares / (count - 1)) : 0;
  out[offset + 4] = percentileOfRange(sorted, from, to, 50);
  out[offset + 5] = percentileOfRange(sorted, from, to, 90);
  out[offset + 6] = percentileOfRange(sorted, from, to, 99);
  return true;
}

/** The p-th percentile of sorted `samples[from..to)` (at least one), interpolating linearly. */
export function percentileOfRange(
  sorted: ArrayLike<number>,
  from: number,
  to: number,
  p: number,
): number {
  const rank = (p / 100) * (to - from - 1);
  const low = from + Math.floor(rank);
  const high = from + Math.ceil(rank);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - Math.floor(rank));
}

/** Sum of absolute differences of consecutive values of `samples[from..to)` (RFC 3550 IPDV). */
export function jitterSum(samples: ArrayLike<number>, from: number, to: number): number {
  let sum = 0;
  for (let index = from + 1; index < to; index++) {
    sum += Math.abs(samples[index] - samples[index - 1]);
  }
  return sum;
}

/** Sorts `samples[from..to)` in place, allocating nothing for the short ranges most flows have. */
export function sortRange(samples: Float32Array | Float64Array, from: number, to: number): void {
  if (to - from > 32) {
    samples.subarray(from, to).sort();
    return;
  }
  for (let index = from + 1; index < to; index++) {
    const value = samples[index];
    let into = index - 1;
    while (into >= from && samples[into] > value) {
      samples[into + 1] = samples[into];
      into--;
    }
    samples[into + 1] = value;
  }
}

/**
 * `array`, or a copy of it `factor` times as long (at least `length`) when it holds fewer than
 * `length` entries.
 */
export function grown<
  T extends Uint32Array | Uint16Array | Uint8Array | Int32Array | Float32Array | Float64Array,
>(array: T, length: number, make: (length: number) => T, factor = 2): T {
  if (length <= array.length) return array;
  const larger = make(Math.max(length, Math.ceil(array.length * factor)));
  larger.set(array);
  return larger;
}

/** `array`, or a copy of its first `length` entries when it has room for more (the room `grown` leaves). */
export function trimmed<
  T extends Uint32Array | Uint16Array | Uint8Array | Int32Array | Float32Array | Float64Array,
>(array: T, length: number): T {
  return array.length > length ? array.slice(0, length) as T : array;
}
