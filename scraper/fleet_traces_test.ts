import assert from "node:assert/strict";
import { csvOutput, type PluginContext } from "@llama/plugins";
import { getLogger } from "@logtape/logtape";
import { toLineProtocol } from "../plugins/line_protocol.ts";
import { trace } from "../core/testdata/trace_fixtures.ts";
import { FleetTraces } from "./fleet_traces.ts";

const T = "10.0.9.1";
const lossy = (srcPort: number, via: string) =>
  trace({ target: T, srcPort, hops: ["10.0.1.1", via, [T, 30]], flowLossPercent: 30 });

Deno.test("fleet suspects count the collectors whose lossy flows cross each link", () => {
  const fleet = new FleetTraces();
  fleet.update("a", [lossy(33000, "10.0.2.1")]);
  fleet.update("b", [{ ...lossy(34000, "10.0.2.1"), source: "10.0.0.2" }]);
  const { suspects } = fleet.suspects();
  const link = suspects.find((suspect) => suspect.to === "10.0.2.1")!;
  assert.equal(link.collectors, 2);
  assert.equal(suspects.find((suspect) => suspect.from === "10.0.0.2")!.collectors, 1);
  fleet.update("b", []);
  assert.equal(
    fleet.suspects().suspects.find((suspect) => suspect.to === "10.0.2.1")!.collectors,
    1,
  );
  assert.equal(fleet.traces().length, 1);
});

Deno.test("fleet suspects leave out traces whose flow has no interval yet", () => {
  const fleet = new FleetTraces();
  fleet.update("a", [{ ...lossy(33000, "10.0.2.1"), flowLossPercent: null }]);
  assert.deepEqual(fleet.suspects(), { suspects: [], lossyFlows: 0, cleanFlows: 0 });
  assert.deepEqual(fleet.suspectPoints(0), []);
});

Deno.test("event points render in line protocol and in CSV with their columns", async () => {
  const fleet = new FleetTraces({ suspectScore: 0.9 });
  fleet.update("a", [trace({ target: T, hops: ["10.0.1.1", null], flowLossPercent: 100 })]);
  const changed = fleet.update("a", [
    trace({ target: T, hops: ["10.0.1.2", [T, 40]], flowLossPercent: 40, pathChanged: true }),
  ]);
  const points = [...changed, ...fleet.suspectPoints(Date.UTC(2026, 0, 1, 0, 1))];
  assert.equal(
    toLineProtocol(points, "s"),
    "llama_path_change,dst_ip=10.0.9.1,dst_port=8100,src_ip=10.0.0.1,src_port=33000,tos=0 " +
      "changed_ttl=1,hops=2,reached_target=1,reverse_hops=2 1767225600\n" +
      "llama_suspect,from=10.0.1.2,to=10.0.9.1 clean_flows=0,collectors=1,lossy_flows=1," +
      "onset_flows=1,score=1 1767225660",
  );
  const folder = await Deno.makeTempDir({ prefix: "llama_events_csv_" });
  try {
    const context: PluginContext = {
      name: "csv",
      logger: getLogger(["llama", "test"]),
      configDirectory: folder,
      dataDirectory: undefined,
      signal: new AbortController().signal,
    };
    const options = csvOutput.parseOptions({
      file: "events.csv",
      tags: ["src_ip", "dst_ip", "from", "to"],
      fields: ["score", "changed_ttl"],
    }, "outputs[0].options");
    {
      await using output = await csvOutput.create(options, context) as
        & Awaited<ReturnType<typeof csvOutput.create>>
        & AsyncDisposable;
      await output.write(points, new AbortController().signal);
    }
    assert.equal(
      await Deno.readTextFile(`${folder}/events.csv`),
      "time,measurement,src_ip,dst_ip,from,to,score,changed_ttl\r\n" +
        "2026-01-01T00:00:00.000Z,llama_path_change,10.0.0.1,10.0.9.1,,,,1\r\n" +
        "2026-01-01T00:01:00.000Z,llama_suspect,,,10.0.1.2,10.0.9.1,1,\r\n",
    );
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});
