import assert from "node:assert/strict";
import { routeSourceAddresses } from "./source_address.ts";
import { requirement } from "../tests/_requirements.ts";

const needs = requirement({ commands: ["ip"] });

Deno.test({
  name:
    "source addresses of thousands of destinations come from one ip process without a pipe deadlock",
  ignore: needs.ignore,
  async fn() {
    // 5,000 routes make ip write ~500 KB, far more than a pipe holds while we are still writing.
    const destinations = Array.from(
      { length: 5000 },
      (_, index) => `127.1.${index >> 8}.${index & 255}`,
    );
    const sources = await routeSourceAddresses(destinations);
    assert.equal(sources.size, 5000);
    assert.equal(sources.get("127.1.19.135"), "127.0.0.1");
  },
});
