import assert from "node:assert/strict";
import { ConfigError } from "@llama/core";
import { OptionsReader } from "./options.ts";

const PATH = "outputs[0].options";

/** Asserts `read` throws a ConfigError at `outputs[0].options.<key>` whose message has `parts`. */
function assertOptionError(read: () => unknown, key: string | undefined, parts: string[]): void {
  const path = key === undefined ? PATH : `${PATH}.${key}`;
  assert.throws(read, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    assert.equal(error.path, path);
    assert.ok(error.message.startsWith(`${path}: webhook: `), error.message);
    for (const part of parts) {
      assert.ok(error.message.includes(part), `"${part}" in ${error.message}`);
    }
    return true;
  });
}

const reader = (raw: unknown) => new OptionsReader(raw, PATH, "webhook");

Deno.test("OptionsReader takes no options as an empty map and refuses a list or text", () => {
  reader(undefined).done();
  reader(null).done();
  assertOptionError(() => reader(["a"]), undefined, ["expected a map of options", "got a list"]);
  assertOptionError(() => reader("url"), undefined, ["expected a map of options", 'got "url"']);
});

Deno.test("OptionsReader.string reads text, numbers and booleans as text, and refuses maps", () => {
  const options = reader({ name: "a", port: 80, flag: true });
  assert.equal(options.string("name"), "a");
  assert.equal(options.string("port"), "80");
  assert.equal(options.string("flag"), "true");
  assert.equal(options.string("missing", "fallback"), "fallback");
  assert.equal(options.string("absent"), undefined);
  assertOptionError(() => reader({ name: { a: 1 } }).string("name"), "name", [
    "expected text",
    "got a map",
  ]);
  assertOptionError(() => reader({ name: [1] }).string("name"), "name", [
    "expected text",
    "got a list",
  ]);
});

Deno.test("OptionsReader.required names what is missing", () => {
  assert.equal(reader({ org: "llama" }).required("org", "the organization"), "llama");
  assertOptionError(() => reader({}).required("org", "the organization to write to"), "org", [
    "missing: expected the organization to write to",
  ]);
  assertOptionError(() => reader({ org: "" }).required("org", "the organization"), "org", [
    "missing",
  ]);
});

Deno.test("OptionsReader.number checks type, range and whole numbers", () => {
  const range = { min: 1, max: 100, fallback: 10 };
  assert.equal(reader({ n: 5.5 }).number("n", range), 5.5);
  assert.equal(reader({}).number("n", range), 10);
  assert.equal(reader({ n: null }).number("n", range), 10);
  assertOptionError(() => reader({ n: "abc" }).number("n", range), "n", [
    "expected a number from 1 to 100",
    'got "abc"',
  ]);
  assertOptionError(() => reader({ n: 0 }).number("n", range), "n", [
    "expected a number from 1 to 100",
    "got 0",
  ]);
  assertOptionError(() => reader({ n: 101 }).number("n", range), "n", ["got 101"]);
  assertOptionError(() => reader({ n: 2.5 }).number("n", { ...range, integer: true }), "n", [
    "expected a whole number from 1 to 100",
    "got 2.5",
  ]);
  assertOptionError(() => reader({ n: Infinity }).number("n", range), "n", ["got Infinity"]);
  assertOptionError(() => reader({ n: NaN }).number("n", range), "n", ["got NaN"]);
});

Deno.test("OptionsReader.boolean refuses text", () => {
  assert.equal(reader({ b: false }).boolean("b", true), false);
  assert.equal(reader({}).boolean("b", true), true);
  assertOptionError(() => reader({ b: "yes" }).boolean("b", true), "b", [
    "expected true or false",
    'got "yes"',
  ]);
});

Deno.test("OptionsReader.oneOf lists the words it takes", () => {
  assert.equal(reader({ f: "json" }).oneOf("f", ["line", "json"], "line"), "json");
  assert.equal(reader({}).oneOf("f", ["line", "json"], "line"), "line");
  assertOptionError(() => reader({ f: "xml" }).oneOf("f", ["line", "json"], "line"), "f", [
    "expected one of line, json",
    'got "xml"',
  ]);
});

Deno.test("OptionsReader.url checks syntax and protocol", () => {
  assert.equal(
    reader({ url: "http://127.0.0.1:8086/x" }).url("url", ["http:", "https:"])?.href,
    "http://127.0.0.1:8086/x",
  );
  assert.equal(reader({}).url("url", ["http:"]), undefined);
  assert.equal(reader({}).url("url", ["http:"], "http://localhost/")?.host, "localhost");
  assertOptionError(() => reader({ url: "nowhere" }).url("url", ["http:", "https:"]), "url", [
    "expected a URL like http://127.0.0.1:8086",
    'got "nowhere"',
  ]);
  assertOptionError(
    () => reader({ url: "ftp://example.com/" }).url("url", ["http:", "https:"]),
    "url",
    ["expected a http: or https: URL", 'got "ftp://example.com/"'],
  );
});

Deno.test("OptionsReader.strings reads a map of text and names the entry at fault", () => {
  assert.deepEqual(reader({ headers: { a: "1", b: 2, c: true } }).strings("headers"), {
    a: "1",
    b: "2",
    c: "true",
  });
  assert.deepEqual(reader({}).strings("headers"), {});
  assertOptionError(() => reader({ headers: "a=1" }).strings("headers"), "headers", [
    "expected a map of text",
    'got "a=1"',
  ]);
  assertOptionError(() => reader({ headers: ["a"] }).strings("headers"), "headers", [
    "got a list",
  ]);
  assertOptionError(
    () => reader({ headers: { authorization: { token: "x" } } }).strings("headers"),
    "headers.authorization",
    ["expected text", "got a map"],
  );
});

Deno.test("OptionsReader.list reads a YAML list or text separated by commas", () => {
  assert.deepEqual(reader({ tags: ["src_ip", " dst_ip ", ""] }).list("tags"), ["src_ip", "dst_ip"]);
  assert.deepEqual(reader({ tags: "src_ip, dst_ip,," }).list("tags"), ["src_ip", "dst_ip"]);
  assert.deepEqual(reader({ tags: [] }).list("tags"), []);
  assert.equal(reader({}).list("tags"), undefined);
  assertOptionError(() => reader({ tags: { a: 1 } }).list("tags"), "tags", [
    "expected a list, or text separated by commas",
    "got a map",
  ]);
  assertOptionError(() => reader({ tags: ["a", { b: 1 }] }).list("tags"), "tags[1]", [
    "expected text",
    "got a map",
  ]);
});

Deno.test("OptionsReader.done refuses unknown options and lists the known ones", () => {
  const options = reader({ url: "http://127.0.0.1/", urll: "typo" });
  options.url("url", ["http:"]);
  options.string("token");
  assertOptionError(() => options.done(), "urll", ['unknown option "urll"', "known: url, token"]);
  assertOptionError(() => reader({ anything: 1 }).done(), "anything", [
    'unknown option "anything"',
    "this plugin takes none",
  ]);
  const complete = reader({ url: "http://127.0.0.1/" });
  complete.string("url");
  complete.done();
});

Deno.test("OptionsReader reads only options that were given, not Object.prototype members", () => {
  const options = reader({});
  assert.equal(options.string("constructor", "fallback"), "fallback");
  assert.equal(options.boolean("hasOwnProperty", true), true);
  assert.deepEqual(options.strings("toString"), {});
  options.done();
});
