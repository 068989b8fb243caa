import assert from "node:assert/strict";
import { parseYamlConfig } from "./config_node.ts";
import { ConfigError } from "./errors.ts";

function errorOf(action: () => unknown): ConfigError {
  try {
    action();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

Deno.test("config node: values, keys and items are located where they are written", () => {
  const root = parseYamlConfig(
    [
      "# a comment",
      "a:",
      "  # another",
      "  b: 1",
      "empty:",
      "list: [x, {y: 2}]",
      "flow: {k, v: 3}",
      "quoted: 'q'",
      "",
    ].join("\n"),
    "t.yaml",
  );
  const fields = root.fields(["a", "empty", "list", "flow", "quoted"], "a map");
  assert.deepEqual(fields.get("a")!.location(), { path: "a", line: 4, column: 3 });
  assert.deepEqual(fields.get("a")!.value(), { b: 1 });
  const empty = fields.get("empty")!;
  assert.equal(empty.isMissing, true);
  assert.deepEqual(empty.location(), { path: "empty", line: 5, column: 1 }, "at its key");
  const [x, y] = fields.get("list")!.items("a list");
  assert.equal(x.text(), "x");
  assert.deepEqual(y.location(), { path: "list[1]", line: 6, column: 11 });
  const flow = fields.get("flow")!.entries("a map");
  assert.deepEqual(flow.map(([key, value]) => [key, value.scalar() ?? null]), [["k", null], [
    "v",
    3,
  ]]);
  assert.equal(fields.get("quoted")!.location().column, 9);
  assert.equal(
    errorOf(() => fields.get("a")!.fields(["size"], "a map")).message,
    't.yaml:4:3: a.b: unknown key "b"; expected one of size',
  );
});

Deno.test("config node: a repeated key is an error at its second place, naming the first", () => {
  const root = parseYamlConfig("x: 1\ny:\n  z: 2\n  z: 3\n", "t.yaml");
  const y = root.fields(["x", "y"], "a map").get("y")!;
  assert.equal(
    errorOf(() => y.entries("a map")).message,
    't.yaml:4:3: y.z: duplicate key "z", first given at line 3, column 3; a key may appear only once in a map',
  );
});

Deno.test("config node: YAML syntax errors name their line and column", () => {
  const error = errorOf(() => parseYamlConfig("a: [1, 2\nb: 3\n", "t.yaml"));
  assert.match(error.message, /^t\.yaml:\d+:\d+: invalid YAML: /);
  assert.ok(error.cause !== undefined, "keeps the parser's error as its cause");
  assert.equal(parseYamlConfig("", "t.yaml").isMissing, true, "an empty file is no value");
  const alias = parseYamlConfig("a: &x {b: 1}\nc: *x\n").fields(["a", "c"], "a map").get("c")!;
  assert.equal(alias.describe(), "an alias");
  assert.deepEqual(alias.value(), { b: 1 });
});

Deno.test("config node: a byte order mark, a document end, bare list items, explicit keys and flow pairs read as YAML says", () => {
  const bom = parseYamlConfig("\ufeffa: [1, 2]\nb: {c: 1}\n", "t.yaml").fields(["a", "b"], "a map");
  assert.deepEqual(bom.get("a")!.items("a list").map((item) => item.scalar()), [1, 2]);
  assert.deepEqual(bom.get("b")!.location(), { path: "b", line: 2, column: 4 });
  assert.deepEqual(
    [...parseYamlConfig("a: 1\n...\n", "t.yaml").fields(["a"], "a map").keys()],
    ["a"],
    "a document end is no key",
  );
  const list = parseYamlConfig("t:\n  -\n  - x\n", "t.yaml").fields(["t"], "a map").get("t")!;
  assert.deepEqual(list.items("a list").map((item) => [item.path, item.describe()]), [
    ["t[0]", "nothing"],
    ["t[1]", '"x"'],
  ]);
  const explicit = parseYamlConfig("? a\n? b\n: 2\n", "t.yaml").entries("a map");
  assert.deepEqual(explicit.map(([key, value]) => [key, value.scalar() ?? null]), [
    ["a", null],
    ["b", 2],
  ]);
  const pairs = parseYamlConfig("t: [a: 1, b]\n", "t.yaml").fields(["t"], "a map").get("t")!;
  assert.deepEqual(pairs.items("a list").map((item) => item.describe()), ["a map", '"b"']);
  assert.deepEqual(pairs.value(), [{ a: 1 }, "b"]);
});

Deno.test("a config number written .inf or .nan is named as written, not as null", () => {
  const root = parseYamlConfig(
    "a: .inf\nb: -.Inf\nc: .NaN\nd: [1, +.inf]\ntag: .inf\n",
    "x.yaml",
  );
  const fields = root.fields(["a", "b", "c", "d", "tag"], "a map");
  const range = { min: 1, max: 10 };
  assert.throws(() => fields.get("a")!.number(range), /x\.yaml:1:4: a: .*, got \.inf$/);
  assert.throws(() => fields.get("b")!.positive("seconds"), /b: .*, got -\.Inf$/);
  assert.throws(() => fields.get("c")!.number(range), /c: .*, got \.NaN$/);
  assert.throws(() => fields.get("d")!.items("a list")[1].number(range), /got \+\.inf$/);
  // As text (a tag value), it stays what was written rather than becoming "Infinity".
  assert.equal(fields.get("tag")!.text(), ".inf");
});
