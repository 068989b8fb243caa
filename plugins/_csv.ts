// Reading CSV records (RFC 4180), for the plugins that read CSV files.

/**
 * The values of the first record of `text`: fields may be quoted, with "" for a quote inside;
 * the record ends at the first line break outside quotes. An empty text has no values.
 */
export function parseCsvRecord(text: string): string[] {
  const values: string[] = [];
  let current = "";
  let quoted = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (quoted) {
      if (char === '"' && text[index + 1] === '"') {
        current += '"';
        index++;
      } else if (char === '"') quoted = false;
      else current += char;
    } else if (char === '"') quoted = true;
    else if (char === ",") {
      values.push(current);
      current = "";
    } else if (char === "\r" || char === "\n") break;
    else current += char;
  }
  if (values.length === 0 && current === "") return [];
  values.push(current);
  return values;
}
