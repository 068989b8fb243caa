import assert from "node:assert/strict";
import * as llama from "./mod.ts";

Deno.test("the root mod.ts names every member's library so each program can be started from it", async () => {
  for (const member of ["core", "reflector", "collector", "scraper", "plugins", "ui"] as const) {
    const own = await import(`@llama/${member}`);
    assert.deepEqual(Object.keys(llama[member]).sort(), Object.keys(own).sort(), member);
  }
  for (const start of ["startCollector", "loadCollectorConfig"]) {
    assert.equal(typeof llama.collector[start as keyof typeof llama.collector], "function", start);
  }
  assert.equal(typeof llama.scraper.startScraper, "function");
  assert.equal(typeof llama.ui.serveMatrixUi, "function");
  await using reflector = await llama.reflector.startReflector({ hostname: "127.0.0.1", port: 0 });
  assert.ok(reflector.address.port > 0);
});
