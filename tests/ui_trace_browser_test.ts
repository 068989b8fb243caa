import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { createMatrixUi } from "@llama/ui";
import { assertRequirement, requirement } from "./_requirements.ts";
import {
  flowTrace,
  NET,
  suspectsResponse,
  tracedInterval,
  tracesResponse,
} from "./_trace_fixtures.ts";
import { artifactPath, collectPageErrors, launchBrowser } from "./ui_browser.ts";

const needs = requirement({ commands: ["chromium"] });
const HOSTILE = `<img src=x onerror="document.title='owned'">`;

/** What the test server answers on the two trace routes; a step swaps them. */
interface TraceRoutes {
  traces(): Response;
  suspects(): Response;
}

const NOT_FOUND = () => Response.json({ error: "not found" }, { status: 404 });

/**
 * The matrix UI over the example interval, with `/api/v1/traces` and `/api/v1/suspects` answered
 * by `routes` (as the collector and the scraper route them beside the UI).
 */
function serveUi(routes: TraceRoutes): Deno.HttpServer<Deno.NetAddr> {
  const interval = tracedInterval();
  const ui = createMatrixUi({ history: () => [interval], describe: () => "trace test" });
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/api/v1/traces") return routes.traces();
    if (path === "/api/v1/suspects") return routes.suspects();
    return ui.fetch(request);
  });
}

function texts(page: Page, selector: string): Promise<string[]> {
  return page.locator(selector).allTextContents();
}

async function attributes(page: Page, selector: string, name: string): Promise<string[]> {
  const found = page.locator(selector);
  const values: string[] = [];
  for (let index = 0; index < await found.count(); index++) {
    values.push(await found.nth(index).getAttribute(name) ?? "");
  }
  return values;
}

/** The cells' texts of the hop rows of the trace of flow `srcPort` to `target`. */
async function hopRows(page: Page, target: string, srcPort: number): Promise<string[][]> {
  const rows = page.locator(
    `#detail article.trace[data-target="${target}"][data-src-port="${srcPort}"] tr.hop`,
  );
  const result: string[][] = [];
  for (let index = 0; index < await rows.count(); index++) {
    result.push(
      (await rows.nth(index).locator("th, td").allTextContents()).map((text) => text.trim()),
    );
  }
  return result;
}

Deno.test({
  name: "matrix page shows each flow's hops, marks the top suspect link and lists the suspects",
  ignore: needs.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  assertRequirement(needs);
  const routes: TraceRoutes = {
    traces: () => Response.json(tracesResponse()),
    suspects: () => Response.json(suspectsResponse(true)),
  };
  await using server = serveUi(routes);
  const base = `http://127.0.0.1:${server.addr.port}/?rows=src_region&cols=dst_hostname`;
  await using browser = await launchBrowser();
  const page = await browser.context.newPage();
  const errors = collectPageErrors(page);

  await t.step("the fleet panel lists the suspects highest score first", async () => {
    await page.goto(base);
    await page.waitForSelector("#suspects tr.suspect");
    assert.equal(await page.locator("#suspects").isVisible(), true);
    assert.deepEqual(await attributes(page, "#suspects tr.suspect", "data-score"), [
      "0.92",
      "0.61",
      "0.35",
      "0.1",
    ], "served lowest first, shown highest first");
    assert.deepEqual(await texts(page, "#suspects tr.suspect th.link"), [
      `${NET.routerB} → ${NET.core}`,
      `${NET.core} → nothing answers past`,
      `${NET.gateway} → ${NET.routerB}`,
      `${NET.source} → ${NET.gateway}`,
    ]);
    assert.deepEqual(await texts(page, "#suspects thead th"), [
      "#",
      "Link",
      "Score",
      "Lossy flows",
      "Clean flows",
      "Onset",
      "Examples",
    ], "no collectors column where the suspects have no collectors count");
    const top = (await page.locator("#suspects tr.top td").allTextContents()).map((text) =>
      text.trim()
    );
    assert.deepEqual(top.slice(0, 5), ["1", "0.92", "4", "0", "4"]);
    assert.equal(
      top[5],
      `${NET.source}:33002>${NET.web1}:8100, ${NET.source}:33004>${NET.web1}:8100 +2`,
    );
    assert.match(await page.locator("#suspects p").textContent() ?? "", /8 lossy and 4 clean/);
  });

  await t.step("a cell's detail shows its traced flows' hops, the lossiest first", async () => {
    await page.click('td.cell[data-col="web-1"]');
    await page.waitForSelector("#detail article.trace");
    assert.deepEqual(await attributes(page, "#detail article.trace", "data-src-port"), [
      "33002",
      "33004",
      "33001",
      "33003",
    ]);
    assert.equal(
      await page.locator("#detail .traces h3").textContent(),
      "Hop by hop: 4 traced flows",
    );
    assert.deepEqual(await hopRows(page, NET.web1, 33002), [
      ["1", NET.gateway, "0%", "0.31", "time-exceeded"],
      ["2", NET.routerB, "0%", "0.84", "time-exceeded"],
      ["3", NET.core, "30%", "1.9", "time-exceeded"],
      ["4", NET.web1, "30%", "2.46", "destination"],
    ]);
    const flow = page.locator(`#detail article.trace[data-src-port="33002"]`);
    assert.equal(
      await flow.locator("h4").textContent(),
      `${NET.source}:33002 → ${NET.web1}:8100 crosses the top suspect`,
    );
    assert.match(
      await flow.locator(".trace-facts").textContent() ?? "",
      /^Traced after loss at .* · flow loss 30% · reached the target · 4 hops back · TOS 0$/,
    );
    const moved = page.locator(`#detail article.trace[data-src-port="33004"]`);
    assert.match(await moved.locator("h4").textContent() ?? "", /path changed/);
    assert.equal(
      await moved.locator('tr.hop[data-ttl="2"] td.address').getAttribute("title"),
      `${NET.routerB} (7), ${NET.routerA} (3)`,
    );
    assert.match(
      await page.locator(`#detail article.trace[data-src-port="33001"] .trace-facts`)
        .textContent() ?? "",
      /^Traced baseline at .* · flow loss 0%/,
    );
  });

  await t.step("the top suspect link is marked between its two hops", async () => {
    const marked = page.locator("#detail article.crosses-suspect");
    assert.deepEqual(await attributes(page, "#detail article.crosses-suspect", "data-src-port"), [
      "33002",
      "33004",
    ], "only the flows through router B cross it");
    const rows = marked.first().locator("tbody tr");
    assert.deepEqual(
      await attributes(page, "#detail article.crosses-suspect >> nth=0 >> tbody tr", "class"),
      [
        "hop kind-time-exceeded",
        "hop kind-time-exceeded",
        "suspect-link",
        "hop kind-time-exceeded suspect",
        "hop kind-destination",
      ],
    );
    assert.equal(
      await rows.nth(2).getAttribute("aria-label"),
      `Top suspect link: ${NET.routerB} → ${NET.core}, score 0.92`,
    );
    assert.equal(await rows.nth(3).getAttribute("data-address"), NET.core);
    const background = await page.evaluate(
      `getComputedStyle(document.querySelector("#detail tr.hop.suspect th")).backgroundColor`,
    );
    const plain = await page.evaluate(
      `getComputedStyle(document.querySelector("#detail tr.hop:not(.suspect) th")).backgroundColor`,
    );
    assert.notEqual(background, plain, "the suspect hop stands out");
    assert.equal(
      await page.locator(`#detail article.trace[data-src-port="33001"] tr.suspect-link`).count(),
      0,
    );
    await page.setViewportSize({ width: 1400, height: 1300 });
    await page.screenshot({ path: await artifactPath("ui-suspects.png") });
    await page.setViewportSize({ width: 1200, height: 800 });
  });

  await t.step("silent hops show as *; nothing answering past a hop is marked there", async () => {
    routes.suspects = () => {
      const body = suspectsResponse();
      return Response.json({ ...body, suspects: body.suspects.slice(1) });
    };
    await page.reload();
    await page.waitForSelector("#suspects tr.suspect");
    await page.click('td.cell[data-col="db-1"]');
    await page.waitForSelector(`#detail article.trace[data-target="${NET.db}"]`);
    const rows = await hopRows(page, NET.db, 33001);
    assert.deepEqual(rows.slice(3), [
      ["4", "*", "100%", "–", "silent"],
      ["5", "*", "100%", "–", "silent"],
    ]);
    const first = "#detail article.trace >> nth=0 >> tbody tr";
    assert.deepEqual(await attributes(page, first, "class"), [
      "hop kind-time-exceeded",
      "hop kind-time-exceeded",
      "hop kind-time-exceeded suspect",
      "suspect-link",
      "hop kind-silent",
      "hop kind-silent",
    ]);
    assert.match(
      await page.locator("#detail tr.suspect-link").first().textContent() ?? "",
      new RegExp(`Top suspect link: ${NET.core.replaceAll(".", "\\.")} → nothing answers past`),
    );
    assert.equal(await page.locator("#detail article.crosses-suspect").count(), 4);
  });

  await t.step("a scraper's collector names and counts are shown", async () => {
    routes.traces = () => {
      const body = tracesResponse();
      return Response.json({
        ...body,
        traces: body.traces.map((trace) => ({ ...trace, collector: "collector-north:5000" })),
      });
    };
    routes.suspects = () => {
      const body = suspectsResponse();
      return Response.json({
        ...body,
        suspects: body.suspects.map((suspect, index) => ({ ...suspect, collectors: 3 - index })),
      });
    };
    await page.reload();
    await page.waitForSelector(`#detail article.trace[data-target="${NET.db}"]`);
    assert.equal((await texts(page, "#suspects thead th"))[6], "Collectors");
    assert.equal((await texts(page, "#suspects tr.top td"))[5], "3");
    assert.match(
      await page.locator("#detail .trace-facts").first().textContent() ?? "",
      / · collector collector-north:5000$/,
    );
  });

  await t.step(
    "without tracing (no route) the detail says so and the panel is hidden",
    async () => {
      routes.traces = NOT_FOUND;
      routes.suspects = NOT_FOUND;
      await page.reload();
      await page.waitForSelector("#detail .trace-note");
      assert.equal(
        await page.locator("#detail .trace-note").textContent(),
        "This server does not trace flows.",
      );
      assert.equal(await page.locator("#suspects").isHidden(), true);
      assert.equal(
        await page.locator("#detail tr.flow").count(),
        4,
        "the rest of the pane is whole",
      );
    },
  );

  await t.step("with tracing off, the detail shows the reason; no suspects, no panel", async () => {
    routes.traces = () =>
      Response.json({
        tracing: { available: false, reason: "the portable engine cannot set a probe's TTL" },
        traces: [],
      });
    routes.suspects = () => Response.json({ suspects: [], lossyFlows: 0, cleanFlows: 0 });
    await page.reload();
    await page.waitForSelector("#detail .trace-note");
    assert.equal(
      await page.locator("#detail .trace-note").textContent(),
      "Tracing is off here: the portable engine cannot set a probe's TTL.",
    );
    assert.equal(await page.locator("#suspects").isHidden(), true);
    assert.equal(await page.locator("#detail .muted", { hasText: /^Cannot load/ }).count(), 0);
  });

  await t.step("addresses and names from the API render as text", async () => {
    routes.traces = () => {
      const trace = flowTrace(NET.db, 33001);
      trace.hops[3] = {
        ...trace.hops[3],
        address: HOSTILE,
        addresses: [{ address: HOSTILE, replies: 1 }],
        kind: "time-exceeded",
      };
      return Response.json({
        tracing: { available: true },
        traces: [{ ...trace, collector: HOSTILE }],
      });
    };
    routes.suspects = () =>
      Response.json({
        suspects: [{
          from: NET.core,
          to: HOSTILE,
          score: 0.9,
          lossyFlows: 1,
          cleanFlows: 0,
          onsetFlows: 1,
          examples: [HOSTILE],
          collectors: 1,
        }],
        lossyFlows: 1,
        cleanFlows: 0,
      });
    await page.reload();
    await page.waitForSelector("#detail article.crosses-suspect");
    assert.equal(await page.locator("img").count(), 0, "no element made from the strings");
    assert.equal(
      await page.locator('#detail tr.hop[data-ttl="4"] td.address').textContent(),
      HOSTILE,
    );
    assert.equal(await page.locator("#detail tr.hop.suspect").getAttribute("data-ttl"), "4");
    assert.equal(await page.locator("#suspects th.link").textContent(), `${NET.core} → ${HOSTILE}`);
    assert.equal(await page.locator("#suspects td.examples").textContent(), HOSTILE);
    assert.match(await page.locator("#detail .trace-facts").textContent() ?? "", /collector <img/);
    assert.notEqual(await page.title(), "owned");
  });

  assert.deepEqual(errors, [], "no error in the page");
});
