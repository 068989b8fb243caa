import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { startReflector } from "@llama/reflector";
import { startRecordingCollector } from "./_collector.ts";
import { assertRequirement, requirement } from "./_requirements.ts";
import { artifactPath, collectPageErrors, launchBrowser } from "./ui_browser.ts";

const needs = requirement({ commands: ["chromium"] });

/** Two reflectors on 127.0.0.1 and 127.0.0.2, and 127.0.0.3 where nobody answers. */
function collectorConfig(westPort: number, eastPort: number): string {
  return `summarization: {interval: 1, handlers: 2}
api: {bind: "127.0.0.1:0"}
source_tags: {src_hostname: lab-collector, src_region: lab}
ports: {p: {ip: "0.0.0.0", port: 0, tos: 0, timeout: 300}}
port_groups: {g: [{port: p, count: 4}]}
rate_limits: {r: {cps: 20}}
tests: [{targets: t, port_group: g, rate_limit: r}]
targets:
  t:
    - {ip: "127.0.0.1", port: ${westPort}, tags: {dst_hostname: alpha, dst_region: west}}
    - {ip: "127.0.0.2", port: ${eastPort}, tags: {dst_hostname: beta, dst_region: east}}
    - {ip: "127.0.0.3", port: ${eastPort}, tags: {dst_hostname: nobody-home, dst_region: east}}
`;
}

function texts(page: Page, selector: string): Promise<string[]> {
  return page.locator(selector).allTextContents();
}

/** A computed style property of the first element matching `selector` (evaluated in the page). */
function computed(page: Page, selector: string, property: string): Promise<string> {
  return page.evaluate(
    `getComputedStyle(document.querySelector(${JSON.stringify(selector)}))[${
      JSON.stringify(property)
    }]`,
  );
}

/** The `data-col` of the focused cell. */
function focusedColumn(page: Page): Promise<string | undefined> {
  return page.evaluate("document.activeElement.dataset.col");
}

/** Polls `condition` until it holds (page.waitForFunction would eval, which the page's CSP forbids). */
async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function query(page: Page): URLSearchParams {
  return new URL(page.url()).searchParams;
}

Deno.test({
  name: "matrix page, in headless chromium against a real collector probing real reflectors",
  ignore: needs.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  assertRequirement(needs);
  await using west = await startReflector({ hostname: "127.0.0.1", port: 0, maxPps: 0 });
  await using east = await startReflector({ hostname: "127.0.0.2", port: 0, maxPps: 0 });
  await using run = await startRecordingCollector(
    collectorConfig(west.address.port, east.address.port),
    { serveApi: true },
  );
  await run.next(2); // the first interval began before the collector did
  const base = `http://127.0.0.1:${run.collector.apiAddress!.port}/`;
  await using browser = await launchBrowser();
  const page = await browser.context.newPage();
  const errors = collectPageErrors(page);

  await t.step("the matrix renders, the silent target's cell in the loss colour", async () => {
    await page.goto(`${base}?rows=src_region&cols=dst_hostname`);
    await page.waitForSelector("td.cell[data-loss]");
    assert.deepEqual(await texts(page, "#matrix thead th"), [
      "src_region ╲ dst_hostname",
      "alpha",
      "beta",
      "nobody-home",
    ]);
    assert.deepEqual(await texts(page, "#matrix tbody th"), ["lab"]);
    const silent = page.locator('td.cell[data-col="nobody-home"]');
    assert.equal(await silent.getAttribute("data-loss"), "100");
    assert.match((await silent.getAttribute("class"))!, /\blevel-4\b/);
    assert.match((await silent.getAttribute("class"))!, /\bworst\b/, "the worst cell stands out");
    assert.equal(await silent.textContent(), "100%");
    assert.match((await silent.getAttribute("title"))!, /loss 100%: (\d+) of \1 probes lost/);
    const healthy = page.locator('td.cell[data-col="alpha"]');
    assert.equal(await healthy.getAttribute("data-loss"), "0");
    assert.equal(
      await computed(page, 'td.cell[data-col="nobody-home"]', "backgroundColor"),
      "rgb(158, 11, 37)",
      "--level-4 of the light theme",
    );
    assert.equal(
      await computed(page, 'td.cell[data-col="alpha"]', "backgroundColor"),
      "rgb(212, 238, 216)",
      "--level-0 of the light theme",
    );
    assert.match(await page.locator("#status").textContent() ?? "", /Interval .*: 3 paths/);
  });

  await t.step("changing the grouping changes the headers, the cells and the URL", async () => {
    await page.selectOption('select[name="cols"]', "dst_region");
    await waitUntil(async () =>
      (await texts(page, "#matrix thead th")).join() === "src_region ╲ dst_region,east,west"
    );
    const eastLoss = Number(
      await page.locator('td.cell[data-col="east"]').getAttribute("data-loss"),
    );
    assert.ok(eastLoss > 40 && eastLoss < 60, `east: one target of two silent, ${eastLoss}%`);
    assert.equal(await page.locator('td.cell[data-col="west"]').getAttribute("data-loss"), "0");
    assert.equal(query(page).get("cols"), "dst_region");
    assert.equal(query(page).get("rows"), "src_region");
  });

  await t.step("clicking a cell opens its paths, per-flow rows and charts", async () => {
    await page.click('td.cell[data-col="east"]');
    await page.waitForSelector("#detail tr.flow");
    assert.equal(await page.locator("#detail-title").textContent(), "lab → east");
    assert.deepEqual(await texts(page, "#detail tr.path th"), [
      "127.0.0.1 → 127.0.0.3",
      "127.0.0.1 → 127.0.0.2",
    ], "the worst path first");
    assert.equal(await page.locator("#detail tr.flow").count(), 8, "four source ports per path");
    assert.equal(
      await page.locator('#detail tr.flow[data-loss="100"]').count(),
      4,
      "every flow to the silent target at 100%",
    );
    assert.equal(await page.locator("#detail .chart svg").count(), 3, "loss, p50 and p99");
    assert.equal(query(page).get("row"), "lab");
    assert.equal(query(page).get("col"), "east");
    await page.screenshot({ path: await artifactPath("ui-matrix-light.png") });
  });

  await t.step("the page refreshes itself every interval", async () => {
    const before = await page.locator("#status").textContent();
    await waitUntil(async () => await page.locator("#status").textContent() !== before);
  });

  await t.step("the URL restores the view, the open cell included", async () => {
    await page.click('input[name="metric"][value="p99"]');
    assert.equal(query(page).get("metric"), "p99");
    assert.match(await page.locator('td.cell[data-col="west"]').textContent() ?? "", / ms$/);
    const shared = page.url();
    const restored = await browser.context.newPage();
    await restored.goto(shared);
    await restored.waitForSelector("#detail tr.flow");
    assert.equal(await restored.locator('select[name="cols"]').inputValue(), "dst_region");
    assert.equal(await restored.locator('input[name="metric"]:checked').inputValue(), "p99");
    assert.equal(await restored.locator("#detail-title").textContent(), "lab → east");
    assert.equal(
      await restored.locator('td.cell[aria-selected="true"]').getAttribute("data-col"),
      "east",
    );
    await restored.close();
  });

  await t.step(
    "keyboard: arrows move between cells, Enter opens one, Escape closes it",
    async () => {
      await page.keyboard.press("Escape");
      await page.waitForSelector("#detail", { state: "hidden" });
      assert.equal(query(page).get("row"), null, "closing clears the cell from the URL");
      await page.locator('td.cell[tabindex="0"]').focus();
      const first = await focusedColumn(page);
      await page.keyboard.press("ArrowRight");
      const second = await focusedColumn(page);
      assert.deepEqual([first, second], ["east", "west"]);
      await page.keyboard.press("Enter");
      await page.waitForSelector("#detail tr.flow");
      assert.equal(await page.locator("#detail-title").textContent(), "lab → west");
    },
  );

  await t.step("the dark theme follows prefers-color-scheme", async () => {
    const background = () => computed(page, "body", "backgroundColor");
    const light = await background();
    await page.emulateMedia({ colorScheme: "dark" });
    await page.click('input[name="metric"][value="loss"]');
    await page.selectOption('select[name="cols"]', "dst_hostname");
    await page.waitForSelector('td.cell[data-col="nobody-home"]');
    await page.click('td.cell[data-col="nobody-home"]');
    await page.waitForSelector("#detail tr.flow");
    assert.notEqual(await background(), light);
    assert.equal(await background(), "rgb(18, 20, 23)");
    await page.screenshot({ path: await artifactPath("ui-matrix-dark.png") });
  });

  assert.deepEqual(errors, [], "no error in the page");
});
