// The detail panel of one cell: its numbers, small charts of the last intervals, and its worst
// paths with every flow (so one black-holed ECMP member shows at 100% under a path at 25%), and
// the hop-by-hop traces of those flows (trace.js).
import { element, getJson, message } from "./dom.js";
import { groupLabel, lossLevel, METRICS, milliseconds, percent } from "./scale.js";
import { fetchTraces, traceSection } from "./trace.js";

const panel = document.getElementById("detail");
const CHART_INTERVALS = 30;
const PATHS_SHOWN = 50;
const SVG = "http://www.w3.org/2000/svg";

let opened;

/**
 * Shows the cell `row` × `col` of the grouping `rows` × `cols`; `onClose` runs when the panel is
 * closed by its button or Escape; `suspect`, when given, is the top suspect link, marked in the
 * traces. Opening the cell already shown refreshes it in place.
 */
export async function openDetail(cell, { onClose, suspect }) {
  const token = {};
  const same = opened !== undefined && JSON.stringify(opened.cell) === JSON.stringify(cell);
  opened = { cell, onClose, token };
  if (!same) {
    panel.replaceChildren(heading(cell), message("Loading…"));
    panel.hidden = false;
  }
  const match = new URLSearchParams();
  match.append("match", `${cell.rows}:${cell.row}`);
  match.append("match", `${cell.cols}:${cell.col}`);
  const matrixQuery = new URLSearchParams({
    rows: cell.rows,
    cols: cell.cols,
    intervals: String(CHART_INTERVALS),
    limit: "1",
  });
  const historyQuery = new URLSearchParams({
    intervals: "1",
    flows: "true",
    limit: String(PATHS_SHOWN),
  });
  try {
    const [series, latest, traces] = await Promise.all([
      getJson(`api/v1/matrix?${matrixQuery}&${match}`),
      getJson(`api/v1/history?${historyQuery}&${match}`),
      fetchTraces(),
    ]);
    if (opened?.token !== token) return;
    const cells = series.intervals.map((interval) => ({ interval, cell: interval.cells[0] }));
    const interval = latest.intervals.at(-1);
    panel.replaceChildren(
      heading(cell),
      summary(cells.at(-1)?.cell),
      charts(cells),
      paths(interval),
      traceSection(interval?.paths ?? [], traces, suspect),
    );
  } catch (error) {
    if (opened?.token !== token) return;
    panel.replaceChildren(heading(cell), message(`Cannot load this cell: ${error.message}`));
  }
}

/** Hides the panel; with `notify`, tells whoever opened it (the page clears it from the URL). */
export function closeDetail({ notify = false } = {}) {
  const onClose = opened?.onClose;
  opened = undefined;
  panel.hidden = true;
  panel.replaceChildren();
  if (notify) onClose?.();
}

function heading(cell) {
  const close = element("button", {
    type: "button",
    className: "close",
    textContent: "×",
    title: "Close (Escape)",
  });
  close.setAttribute("aria-label", "Close the detail");
  close.addEventListener("click", () => closeDetail({ notify: true }));
  const title = element("h2", {
    id: "detail-title",
    textContent: `${groupLabel(cell.row)} → ${groupLabel(cell.col)}`,
  });
  const keys = element("p", { className: "muted", textContent: `${cell.rows} → ${cell.cols}` });
  return element("div", { className: "detail-head" }, [title, close, keys]);
}

function summary(cell) {
  if (cell === undefined) return message("No paths in this cell in the last interval.");
  const facts = [
    ["Loss", `${percent(cell.lossPercent)} (${cell.lost} of ${cell.sent})`],
    ["Paths", `${cell.paths}, ${cell.lossyPaths} lossy`],
    ["Worst path", percent(cell.worstPathLoss)],
    ["Worst flow", percent(cell.worstFlowLoss)],
    ["RTT p50", milliseconds(cell.rttP50)],
    ["RTT p99", milliseconds(cell.rttP99)],
  ];
  return element(
    "dl",
    { className: "facts" },
    facts.flatMap(([term, value]) => [
      element("dt", { textContent: term }),
      element("dd", { textContent: value }),
    ]),
  );
}

function charts(cells) {
  return element(
    "div",
    { className: "charts" },
    Object.values(METRICS).map((metric) =>
      chart(
        metric,
        cells.map(({ interval, cell }) => ({
          time: interval.start,
          value: cell?.[metric.field] ?? null,
        })),
      )
    ),
  );
}

/** A small line chart of one metric over the last intervals, drawn as inline SVG. */
function chart(metric, points) {
  const width = 240, height = 56, pad = 4;
  const values = points.map((point) => point.value).filter((value) => value !== null);
  const max = Math.max(...values, metric.field === "lossPercent" ? 1 : 0) || 1;
  const x = (index) =>
    points.length < 2 ? width / 2 : pad + index * (width - 2 * pad) / (points.length - 1);
  const y = (value) => height - pad - value / max * (height - 2 * pad);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  const last = values.at(-1);
  const label = `${metric.label} over the last ${points.length} intervals: now ${
    metric.format(last ?? null)
  }, highest ${metric.format(values.length ? Math.max(...values) : null)}`;
  svg.setAttribute("aria-label", label);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute(
    "points",
    points.flatMap((point, index) => point.value === null ? [] : [`${x(index)},${y(point.value)}`])
      .join(" "),
  );
  svg.append(line);
  if (values.length === 0) {
    const empty = document.createElementNS(SVG, "text");
    empty.setAttribute("x", String(width / 2));
    empty.setAttribute("y", String(height / 2 + 4));
    empty.textContent = metric.field === "lossPercent" ? "no probes" : "no answers";
    svg.append(empty);
  }
  points.forEach((point, index) => {
    if (point.value === null) return;
    const dot = document.createElementNS(SVG, "circle");
    dot.setAttribute("cx", x(index));
    dot.setAttribute("cy", y(point.value));
    dot.setAttribute("r", "2");
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${new Date(point.time).toLocaleTimeString()}: ${
      metric.format(point.value)
    }`;
    dot.append(title);
    svg.append(dot);
  });
  const caption = element("figcaption", {
    textContent: `${metric.label}: ${metric.format(last ?? null)} (max ${
      metric.format(values.length ? Math.max(...values) : null)
    })`,
  });
  return element("figure", { className: `chart chart-${metric.field}` }, [caption, svg]);
}

function paths(interval) {
  if (interval === undefined || interval.paths.length === 0) return message("No paths.");
  const shown = [...interval.paths].sort((a, b) =>
    b.lossPercent - a.lossPercent || (b.rtt?.p99 ?? 0) - (a.rtt?.p99 ?? 0)
  );
  const head = element("thead", {}, [
    element(
      "tr",
      {},
      ["Path / flow", "Sent", "Lost", "Loss", "p50 ms", "p99 ms"].map((text) =>
        element("th", { scope: "col", textContent: text })
      ),
    ),
  ]);
  const body = element("tbody");
  for (const path of shown) {
    body.append(row("path", `${path.srcIp} → ${path.dstIp}`, path, describeTags(path.tags)));
    for (const flow of path.flows ?? []) {
      body.append(row("flow", `:${flow.srcPort} → :${flow.dstPort}`, flow));
    }
  }
  const note = interval.matchedPaths > shown.length
    ? `The ${shown.length} worst of ${interval.matchedPaths} paths`
    : `${shown.length} path${shown.length === 1 ? "" : "s"}`;
  return element("section", { className: "paths" }, [
    element("h3", { textContent: `${note}, with their flows (last interval)` }),
    element("table", { className: "path-table" }, [head, body]),
  ]);
}

function row(kind, label, statistics, title) {
  const cells = [
    element("th", { scope: "row", textContent: label, title: title ?? "" }),
    element("td", { textContent: String(statistics.sent) }),
    element("td", { textContent: String(statistics.lost) }),
    element("td", {
      className: `loss level-${lossLevel(statistics.lossPercent)}`,
      textContent: percent(statistics.lossPercent),
    }),
    element("td", { textContent: number(statistics.rtt?.p50) }),
    element("td", { textContent: number(statistics.rtt?.p99) }),
  ];
  const tr = element("tr", { className: kind }, cells);
  tr.dataset.loss = String(statistics.lossPercent);
  return tr;
}

function number(value) {
  return value === null || value === undefined ? "–" : String(Number(value.toPrecision(3)));
}

function describeTags(tags) {
  return Object.entries(tags).map(([key, value]) => `${key}=${value}`).join(" ");
}
