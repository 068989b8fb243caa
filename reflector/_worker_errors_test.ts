import assert from "node:assert/strict";
import { postedProperties, receivedProperties } from "./_worker_errors.ts";

class CodedError extends Error {
  readonly code = "EAGAIN";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CodedError";
  }
}

Deno.test("an error logged on the reflector's worker reaches the log with its name, fields, stack and cause", () => {
  const sent = new CodedError("sendmmsg failed", { cause: new TypeError("inner") });
  // What postMessage does to the message on its way to the main thread.
  const crossed = structuredClone(postedProperties({ count: 3, error: sent }));
  const properties = receivedProperties(crossed);
  assert.equal(properties.count, 3);
  const error = properties.error as Error & { code?: string };
  assert.ok(error instanceof Error);
  assert.equal(error.name, "CodedError");
  assert.equal(error.message, "sendmmsg failed");
  assert.equal(error.code, "EAGAIN");
  assert.equal(error.stack, sent.stack);
  assert.ok(error.cause instanceof Error);
  assert.equal((error.cause as Error).name, "TypeError");
  assert.equal((error.cause as Error).message, "inner");
});

Deno.test("properties without errors cross the reflector's worker boundary as they are", () => {
  assert.deepEqual(receivedProperties(structuredClone(postedProperties({ count: 1, why: "x" }))), {
    count: 1,
    why: "x",
  });
});
