import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { setupLogging } from "./logging.ts";

/** A stream that keeps what is written to it, as text. */
function collect(): { stream: WritableStream<Uint8Array>; text: () => string } {
  const chunks: Uint8Array[] = [];
  const stream = new WritableStream<Uint8Array>({ write: (chunk) => void chunks.push(chunk) });
  const decoder = new TextDecoder();
  return { stream, text: () => chunks.map((chunk) => decoder.decode(chunk)).join("") };
}

class CodedError extends Error {
  readonly code = "ECONNREFUSED";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CodedError";
  }
}

function failure(): Error {
  return new CodedError("Cannot scrape c1", { cause: new TypeError("connection refused") });
}

Deno.test("a logged error in JSON lines carries its name, message, stack, fields and cause", async () => {
  const output = collect();
  {
    await using _logging = await setupLogging({ format: "json", stream: output.stream });
    getLogger(["llama", "test"]).with({ collector: "c1" }).warn(
      "Scrape of {collector} failed: {error}",
      {
        error: failure(),
      },
    );
  }
  const lines = output.text().trimEnd().split("\n");
  assert.equal(lines.length, 1);
  const record = JSON.parse(lines[0]);
  // The message shows the error's text, not "{}"; the properties hold the error itself.
  assert.equal(
    record.message,
    'Scrape of "c1" failed: "Cannot scrape c1 (cause: connection refused)"',
  );
  assert.equal(record.properties.collector, "c1");
  const { error } = record.properties;
  assert.equal(error.name, "CodedError");
  assert.equal(error.message, "Cannot scrape c1");
  assert.equal(error.code, "ECONNREFUSED");
  assert.match(error.stack, /^CodedError: Cannot scrape c1\n\s+at .*logging_test\.ts/);
  assert.equal(error.cause.name, "TypeError");
  assert.equal(error.cause.message, "connection refused");
  assert.match(error.cause.stack, /^TypeError: connection refused\n/);
});

Deno.test("a logged error in text is its message and its cause's, on the event's one line", async () => {
  const output = collect();
  {
    await using _logging = await setupLogging({ format: "text", stream: output.stream });
    const error = new Error("Cannot reload\nhosts.yaml", { cause: failure() });
    getLogger(["llama", "test"]).error("Reload failed: {error}", { error });
  }
  const lines = output.text().trimEnd().split("\n");
  assert.equal(lines.length, 1, output.text());
  assert.match(
    lines[0],
    /\[ERR\] llama\.test: Reload failed: Cannot reload hosts\.yaml \(cause: Cannot scrape c1\) \(cause: connection refused\)$/,
  );
});
