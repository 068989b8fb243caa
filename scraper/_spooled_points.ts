// Reading a spool file back: its text was written by us, but the disk, a crash of the machine or
// a person may have changed it since, so it is checked like any input.
import type { Point } from "@llama/plugins";

/**
 * The points of a spool file's text, or why it is not a batch of points: empty, cut short, not
 * JSON, or JSON of another shape (naming the first entry at fault).
 */
export function parseSpooledPoints(text: string): Point[] | string {
  if (text.trim() === "") return "is empty";
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return `is not JSON (cut short?): ${(error as Error).message}`;
  }
  if (!Array.isArray(data)) return "is not a list of points";
  for (const [index, entry] of data.entries()) {
    const problem = pointProblem(entry);
    if (problem !== undefined) return `has an entry [${index}] that is not a point: ${problem}`;
  }
  // JSON has no NaN or Infinity: such fields were written as null, and no output writes them.
  for (const entry of data as { fields: Record<string, number | null> }[]) {
    for (const [key, value] of Object.entries(entry.fields)) {
      if (value === null) delete entry.fields[key];
    }
  }
  return data as Point[];
}

function pointProblem(entry: unknown): string | undefined {
  if (!isRecord(entry)) return "not an object";
  if (typeof entry.measurement !== "string") return "no measurement";
  if (typeof entry.time !== "number" || !Number.isFinite(entry.time)) return "no time";
  if (!isRecord(entry.tags) || !Object.values(entry.tags).every((v) => typeof v === "string")) {
    return "tags are not a map of text";
  }
  if (
    !isRecord(entry.fields) ||
    !Object.values(entry.fields).every((v) => typeof v === "number" || v === null)
  ) {
    return "fields are not a map of numbers";
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
