import assert from "node:assert/strict";
import {
  DEFAULT_REFUSED_SOURCE_PORTS,
  parseSourcePorts,
  refusedPortTable,
} from "./_source_ports.ts";

Deno.test("refused source ports read as ports and ranges, or none", () => {
  assert.deepEqual(parseSourcePorts("7, 19,1900-1902", "--ports"), [7, 19, 1900, 1901, 1902]);
  assert.deepEqual(parseSourcePorts("none", "--ports"), []);
  const defaults = parseSourcePorts(DEFAULT_REFUSED_SOURCE_PORTS, "--ports");
  for (const port of [7, 19, 53, 123, 137, 138, 1900, 8100, 11211]) {
    assert.ok(defaults.includes(port), `${port} is refused by default`);
  }
  // Ephemeral ports, where probers send from, are never refused by default.
  assert.ok(defaults.every((port) => port < 32768), "no default in the ephemeral range");
  for (const bad of ["0", "65536", "19-7", "seven", "7,,19", "1-2-3"]) {
    assert.throws(() => parseSourcePorts(bad, "--ports"), /--ports takes ports 1\.\.65535/, bad);
  }
});

Deno.test("the refused port table always holds the reflector's own port and port 0", () => {
  const table = refusedPortTable([19], 9000);
  assert.equal(table.length, 65536);
  assert.deepEqual([0, 19, 9000].map((port) => table[port]), [1, 1, 1]);
  assert.equal(table.reduce((sum, value) => sum + value, 0), 3);
});
