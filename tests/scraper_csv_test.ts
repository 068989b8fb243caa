// Tags that a spreadsheet would run as formulas come out of the real scraper's CSV file as text;
// a NUL byte or an empty tag name never reaches the file (the point is set aside and counted);
// a tag named __proto__ is a column like any other.
import assert from "node:assert/strict";
import { runProgram } from "./_process.ts";
import { intervalCollector, pathTo } from "./_interval_collector.ts";

const FORMULAS: Record<string, string> = {
  f_equals: "=cmd|' /C calc'!A0",
  f_plus: "+SUM(1+1)*cmd|' /C calc'!A0",
  f_at: "@SUM(1)",
  f_minus: "-2+3+cmd|' /C calc'!A0",
  f_tab: "\t=1+1",
  f_cr: "\r=1+1",
  f_quote: "'kept",
  f_fullwidth: "\uFF1D1+1",
};

/** Every record of an RFC 4180 text (quoted fields may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let quoted = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (quoted) {
      if (char === '"' && text[index + 1] === '"') {
        field += '"';
        index++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ",") {
      record.push(field);
      field = "";
    } else if (char === "\r" && text[index + 1] === "\n") {
      record.push(field);
      records.push(record);
      record = [];
      field = "";
      index++;
    } else field += char;
  }
  return records;
}

Deno.test("scraper's CSV file holds formulas as text, no NUL byte, no empty column, and a __proto__ column", async () => {
  const hostile = JSON.parse('{"__proto__": "proto-tag", "=1+1": "formula-named"}') as Record<
    string,
    string
  >;
  await using collector = intervalCollector([
    pathTo("10.9.1.1", { ...FORMULAS, ...hostile }),
    pathTo("10.9.1.2", { f_equals: "a\u0000b" }),
    pathTo("10.9.1.3", { "": "no name" }),
    pathTo("10.9.1.4", { f_equals: "plain" }),
  ]);
  const directory = await Deno.makeTempDir({ prefix: "llama-scraper-csv-" });
  try {
    const config = `${directory}/scraper.yaml`;
    await Deno.writeTextFile(
      config,
      `collectors: ["${collector.url}"]
data_directory: ./data
outputs:
  - use: csv
    options: { file: points.csv }
`,
    );
    const run = await runProgram("scraper/main.ts", ["--config", config, "--once"]);
    const bytes = await Deno.readFile(`${directory}/points.csv`);
    assert.ok(!bytes.includes(0), "no NUL byte in the file");
    const text = new TextDecoder().decode(bytes);
    assert.ok(text.includes(`"'=cmd|' /C calc'!A0"`), `quoted, with a quote in front:\n${text}`);
    const [header, ...rows] = parseCsv(text);
    assert.ok(!header.includes(""), `no empty column: ${header}`);
    assert.ok(header.includes("__proto__"));
    assert.deepEqual(rows.map((row) => row[header.indexOf("dst_ip")]), ["10.9.1.1", "10.9.1.4"]);
    const cell = (row: string[], column: string) => row[header.indexOf(column)];
    for (const [tag, value] of Object.entries(FORMULAS)) {
      assert.equal(cell(rows[0], tag), `'${value}`, tag);
    }
    assert.equal(cell(rows[0], "__proto__"), "proto-tag");
    assert.equal(cell(rows[0], "'=1+1"), "formula-named", "a column name is neutralized too");
    assert.equal(cell(rows[1], "f_equals"), "plain");
    assert.equal(cell(rows[1], "__proto__"), "");
    // Every cell a spreadsheet reads: none starts like a formula, unless it is a number.
    for (const row of [header, ...rows]) {
      for (const value of row) {
        assert.ok(!/^[=+\-@\t\r]/.test(value) || Number.isFinite(Number(value)), value);
      }
    }

    assert.equal(run.code, 1, `two points were refused: ${run.stderr}`);
    const letters = (await Deno.readTextFile(`${directory}/data/spool/csv/dead-letter.jsonl`))
      .trim().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual(letters.map((letter) => letter.point.tags.dst_ip).sort(), [
      "10.9.1.2",
      "10.9.1.3",
    ]);
    assert.match(letters.find((l) => l.point.tags.dst_ip === "10.9.1.2").reason, /NUL byte/);
    assert.match(letters.find((l) => l.point.tags.dst_ip === "10.9.1.3").reason, /empty name/);

    // Appending later keeps the columns: the header read back names the same tags.
    const again = await runProgram("scraper/main.ts", ["--config", config, "--once"]);
    assert.equal(again.code, 1, again.stderr);
    assert.doesNotMatch(again.stderr, /is not in the CSV header/);
    const [header2, ...rows2] = parseCsv(await Deno.readTextFile(`${directory}/points.csv`));
    assert.deepEqual(header2, header);
    assert.equal(rows2.length, 4);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});
