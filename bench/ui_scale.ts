// Not part of `deno task test`: run it on its own, on a quiet machine, and read the numbers it
// prints: deno test -A bench/ui_scale.ts
import assert from "node:assert/strict";
import { serveMatrixUi } from "@llama/ui";
import { assertRequirement, requirement } from "../tests/_requirements.ts";
import { artifactPath, launchBrowser } from "../tests/ui_browser.ts";
import { fleetInterval } from "../tests/ui_fleet.ts";

const needs = requirement({ commands: ["chromium"] });

Deno.test({
  name: "matrix page stays fast with 1,000 × 1,000 hosts grouped into 10 × 10 regions",
  ignore: needs.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  assertRequirement(needs);
  const started = Date.parse("2026-01-01T00:00:00Z");
  const fleet = fleetInterval(1000, 1000, 10, started);
  // Three intervals sharing one set of paths: the charts need more than one point.
  const history = [0, 1, 2].map((index) => ({
    ...fleet,
    start: new Date(started + index * 30_000).toISOString(),
    end: new Date(started + (index + 1) * 30_000).toISOString(),
  }));
  await using server = await serveMatrixUi({ hostname: "127.0.0.1", port: 0 }, {
    history: () => history,
    describe: () => "a synthetic fleet of 1,000 × 1,000 hosts",
  });
  const base = `http://127.0.0.1:${server.address.port}/`;
  await using browser = await launchBrowser();
  const page = await browser.context.newPage();
  const measured: Record<string, number | string> = {};

  await t.step("grouped by region: 100 cells, from a small answer", async () => {
    const began = performance.now();
    await page.goto(`${base}?rows=src_region&cols=dst_region&sort=worst`);
    await page.waitForSelector("td.cell[data-loss]");
    measured["grouped: page load to drawn matrix, ms"] = Math.round(performance.now() - began);
    measured["grouped: drawing, ms"] = Number(
      await page.locator("#matrix").getAttribute("data-render-ms"),
    );
    assert.equal(await page.locator("td.cell").count(), 100);
    const answer = await fetch(`${base}api/v1/matrix?rows=src_region&cols=dst_region&intervals=1`);
    measured["grouped: /api/v1/matrix bytes"] = (await answer.text()).length;
    assert.deepEqual(
      await page.locator("td.cell.worst").first().getAttribute("data-row"),
      "region-3",
      "worst first: the lossy region pair leads",
    );
    const hidden = page.locator('td.cell[data-row="region-1"][data-col="region-2"]');
    assert.match(
      (await hidden.getAttribute("class"))!,
      /\bhidden-loss\b/,
      "the black hole is flagged",
    );
    assert.equal(await hidden.getAttribute("data-worst-inside"), "100");
    await page.screenshot({ path: await artifactPath("ui-scale-regions.png") });
  });

  await t.step("single hosts: the 100 worst of 1,000 rows and columns", async () => {
    const began = performance.now();
    await page.selectOption('select[name="rows"]', "src_ip");
    await page.selectOption('select[name="cols"]', "dst_ip");
    const deadline = Date.now() + 20_000;
    while (await page.locator("td.cell").count() !== 10_000) {
      assert.ok(Date.now() < deadline, "the 100 × 100 table did not appear");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    measured["hosts: regroup to drawn 100 × 100 table, ms"] = Math.round(performance.now() - began);
    measured["hosts: drawing, ms"] = Number(
      await page.locator("#matrix").getAttribute("data-render-ms"),
    );
    assert.match(
      await page.locator("#status").textContent() ?? "",
      /showing the 100 worst of 1,000 rows and the 100 worst of 1,000 columns/,
    );
    const answer = await fetch(`${base}api/v1/matrix?rows=src_ip&cols=dst_ip&intervals=1`);
    measured["hosts: /api/v1/matrix bytes"] = (await answer.text()).length;
    const blackHoled = page.locator('td.cell[data-row="10.0.1.1"][data-col="10.128.2.2"]');
    assert.equal(await blackHoled.getAttribute("data-loss"), "100");
    const detailBegan = performance.now();
    await blackHoled.click();
    await page.waitForSelector("#detail tr.path");
    measured["hosts: click to detail, ms"] = Math.round(performance.now() - detailBegan);
  });

  console.log(JSON.stringify(measured, null, 2));
});
