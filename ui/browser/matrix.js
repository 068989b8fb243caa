// The matrix page's browser module. The view (grouping, metric, order, open cell) lives in the
// query string, so a link shows what its sender saw; the data comes from api/v1/matrix, refreshed
// every interval. The detail panel of a cell is detail.js; the fleet's suspect links, suspects.js.
import { closeDetail, openDetail } from "./detail.js";
import { groupLabel, lossLevel, median, METRICS, percent, RTT_STEPS, rttLevel } from "./scale.js";
import { refreshSuspects } from "./suspects.js";

const form = document.getElementById("controls");
const table = document.getElementById("matrix");
const caption = document.getElementById("matrix-help");
const status = document.getElementById("status");
const legend = document.getElementById("legend");
const suspectsPanel = document.getElementById("suspects");
const WORST_CELLS = 3;

const state = readState();
let matrix;
let suspects = [];
let timer;
let focused = { row: undefined, col: undefined };

/** The view from the URL; unknown values fall back to the defaults. */
function readState() {
  const query = new URLSearchParams(location.search);
  return {
    rows: query.get("rows") || "src_ip",
    cols: query.get("cols") || "dst_ip",
    metric: query.get("metric") in METRICS ? query.get("metric") : "loss",
    sort: query.get("sort") === "worst" ? "worst" : "name",
    row: query.get("row") ?? undefined,
    col: query.get("col") ?? undefined,
  };
}

function writeState() {
  const query = new URLSearchParams({
    rows: state.rows,
    cols: state.cols,
    metric: state.metric,
    sort: state.sort,
  });
  if (state.row !== undefined && state.col !== undefined) {
    query.set("row", state.row);
    query.set("col", state.col);
  }
  history.replaceState(null, "", `?${query}`);
}

async function load() {
  clearTimeout(timer);
  const requested = { ...state };
  const query = new URLSearchParams({ rows: state.rows, cols: state.cols, intervals: "1" });
  let seconds = 5;
  // Never rejects: a server without tracing just has no suspects panel.
  const suspectsRead = refreshSuspects(suspectsPanel).then((list) => suspects = list);
  try {
    const response = await fetch(`api/v1/matrix?${query}`, { cache: "no-store" });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
    if (requested.rows !== state.rows || requested.cols !== state.cols) return;
    matrix = body;
    seconds = body.intervals.at(-1)?.intervalSeconds ?? seconds;
    updateKeys(body.keys);
    render();
    await suspectsRead;
    if (state.row !== undefined) showDetail();
  } catch (error) {
    status.textContent = `Cannot load the matrix: ${error.message}. Retrying.`;
    status.classList.add("error");
  }
  // A new interval is published once per interval: look again then (at least every minute).
  timer = setTimeout(load, Math.min(Math.max(seconds, 1), 60) * 1000);
}

/** Keeps the grouping menus in step with the tags the data has now. */
function updateKeys(keys) {
  for (const [name, list] of [["rows", keys.rows], ["cols", keys.cols]]) {
    const select = form.elements[name];
    const wanted = list.includes(state[name]) ? list : [...list, state[name]];
    const shown = [...select.options].map((option) => option.value);
    if (shown.join("\n") === wanted.join("\n")) continue;
    select.replaceChildren(
      ...wanted.map((key) => new Option(key, key, false, key === state[name])),
    );
  }
}

function render() {
  const began = performance.now();
  const interval = matrix.intervals.at(-1);
  const metric = METRICS[state.metric];
  const rows = matrix.rows.values;
  const cols = matrix.cols.values;
  const grid = new Map();
  for (const cell of interval?.cells ?? []) grid.set(cell.row * cols.length + cell.col, cell);
  const metricValue = (cell) => cell === undefined ? null : cell[metric.field];
  const typical = state.metric === "loss" ? null : median([...grid.values()].map(metricValue));
  const levelOf = (cell) => {
    const value = metricValue(cell);
    if (cell === undefined || cell.sent === 0 || value === null) return "none";
    return state.metric === "loss" ? lossLevel(value) : rttLevel(value, typical);
  };

  const rowOrder = order(
    rows,
    (row) => cols.map((_, col) => metricValue(grid.get(row * cols.length + col))),
  );
  const colOrder = order(
    cols,
    (col) => rows.map((_, row) => metricValue(grid.get(row * cols.length + col))),
  );
  const worst = new Set(
    [...grid.values()].filter((cell) => {
      const level = levelOf(cell);
      return level !== "none" && level > 0;
    }).sort((a, b) => metricValue(b) - metricValue(a)).slice(0, WORST_CELLS),
  );

  const head = document.createElement("thead");
  const headRow = head.insertRow();
  const corner = document.createElement("th");
  corner.className = "corner";
  corner.textContent = `${matrix.rows.key} ╲ ${matrix.cols.key}`;
  headRow.append(corner);
  for (const col of colOrder) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = groupLabel(cols[col]);
    headRow.append(th);
  }
  const body = document.createElement("tbody");
  for (const row of rowOrder) {
    const tr = body.insertRow();
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = groupLabel(rows[row]);
    tr.append(th);
    for (const col of colOrder) {
      const cell = grid.get(row * cols.length + col);
      const td = tr.insertCell();
      td.tabIndex = -1;
      td.dataset.row = rows[row];
      td.dataset.col = cols[col];
      const level = levelOf(cell);
      td.className = `cell level-${level}`;
      if (cell === undefined) {
        td.classList.add("empty");
        td.title = `${describeCell(rows[row], cols[col])}\nno paths`;
        continue;
      }
      td.dataset.loss = String(cell.lossPercent);
      td.dataset.p50 = String(cell.rttP50 ?? "");
      td.dataset.p99 = String(cell.rttP99 ?? "");
      td.dataset.level = String(level);
      if (worst.has(cell)) td.classList.add("worst");
      // A black-holed path or ECMP flow hides in a big cell's average: flag it in a corner.
      const inside = Math.max(cell.worstPathLoss, cell.worstFlowLoss ?? 0);
      if (lossLevel(inside) >= 3 && lossLevel(inside) > lossLevel(cell.lossPercent)) {
        td.classList.add("hidden-loss");
        td.dataset.worstInside = String(inside);
      }
      td.textContent = metric.format(metricValue(cell));
      td.title = tooltip(cell, rows[row], cols[col]);
      if (rows[row] === state.row && cols[col] === state.col) {
        td.setAttribute("aria-selected", "true");
      }
    }
  }
  caption.textContent =
    `Sources by ${matrix.rows.key} (rows) to destinations by ${matrix.cols.key}` +
    ` (columns), coloured by ${metric.label.toLowerCase()}. Arrow keys move between cells; Enter opens one.`;
  table.replaceChildren(caption, head, body);
  // How long drawing took, for the scale test and the curious.
  table.dataset.renderMs = (performance.now() - began).toFixed(1);
  restoreFocus();
  renderLegend(typical);
  renderStatus(interval);
}

/** Row or column positions, by name (as the server sends them) or worst first. */
function order(values, valuesAlong) {
  const positions = values.map((_, position) => position);
  if (state.sort !== "worst") return positions;
  const worst = positions.map((position) =>
    Math.max(-1, ...valuesAlong(position).filter((value) => value !== null))
  );
  return positions.sort((a, b) => worst[b] - worst[a] || a - b);
}

function describeCell(row, col) {
  return `${matrix.rows.key} ${groupLabel(row)} → ${matrix.cols.key} ${groupLabel(col)}`;
}

function tooltip(cell, row, col) {
  const lines = [
    describeCell(row, col),
    `loss ${percent(cell.lossPercent)}: ${cell.lost} of ${cell.sent} probes lost`,
    `${cell.paths} path${cell.paths === 1 ? "" : "s"}, ${cell.lossyPaths} lossy; worst path ${
      percent(cell.worstPathLoss)
    }` + (cell.worstFlowLoss === null ? "" : `, worst flow ${percent(cell.worstFlowLoss)}`),
    cell.rttP50 === null
      ? "no answers"
      : `RTT p50 ${METRICS.p50.format(cell.rttP50)}, p99 ${METRICS.p99.format(cell.rttP99)}`,
  ];
  return lines.join("\n");
}

function renderLegend(typical) {
  const entries = state.metric === "loss"
    ? [
      [0, "no loss"],
      [1, "< 1%"],
      [2, "1–5%"],
      [3, "5–50%"],
      [4, "≥ 50%"],
      ["none", "no probes"],
      ["hidden", "a path or flow inside loses ≥ 5%"],
    ]
    : [
      [
        0,
        `≤ ${RTT_STEPS[0]}× median${typical === null ? "" : ` (${METRICS.p50.format(typical)})`}`,
      ],
      ...RTT_STEPS.map((step, index) => [index + 1, `> ${step}×`]),
      ["none", "no answers"],
    ];
  legend.replaceChildren(...entries.map(([level, text]) => {
    const item = document.createElement("span");
    const swatch = document.createElement("span");
    swatch.className = `swatch level-${level}`;
    item.append(swatch, text);
    return item;
  }));
}

function renderStatus(interval) {
  status.classList.remove("error");
  if (interval === undefined) {
    status.textContent = "Waiting for the first interval…";
    return;
  }
  const time = (text) => new Date(text).toLocaleTimeString();
  const cut = [
    matrix.rows.total > matrix.rows.values.length
      ? `the ${matrix.rows.values.length} worst of ${matrix.rows.total.toLocaleString("en")} rows`
      : "",
    matrix.cols.total > matrix.cols.values.length
      ? `the ${matrix.cols.values.length} worst of ${
        matrix.cols.total.toLocaleString("en")
      } columns`
      : "",
  ].filter(Boolean);
  status.textContent =
    `Interval ${time(interval.start)}–${time(interval.end)}: ${
      interval.paths.toLocaleString("en")
    } paths` +
    (cut.length ? `; showing ${cut.join(" and ")}` : "") +
    `. Updated ${new Date().toLocaleTimeString()}.`;
}

function cellAt(row, col) {
  return [...table.querySelectorAll("td.cell")].find((td) =>
    td.dataset.row === row && td.dataset.col === col
  );
}

/** One cell takes Tab focus (a roving tabindex); the arrow keys move it. */
function restoreFocus() {
  const hadFocus = table.contains(document.activeElement) ||
    document.activeElement === document.body;
  const target = cellAt(focused.row ?? state.row, focused.col ?? state.col) ??
    table.querySelector("td.cell");
  if (target === undefined || target === null) return;
  target.tabIndex = 0;
  if (hadFocus && focused.row !== undefined) target.focus({ preventScroll: true });
}

function moveFocus(from, rowStep, colStep) {
  const tr = from.parentElement;
  const rowIndex = tr.sectionRowIndex + rowStep;
  const colIndex = from.cellIndex + colStep;
  const target = tr.parentElement.rows[rowIndex]?.cells[colIndex];
  if (target === undefined || target.tagName !== "TD") return;
  from.tabIndex = -1;
  target.tabIndex = 0;
  target.focus();
  focused = { row: target.dataset.row, col: target.dataset.col };
}

function select(td) {
  state.row = td.dataset.row;
  state.col = td.dataset.col;
  focused = { row: state.row, col: state.col };
  for (const selected of table.querySelectorAll("[aria-selected]")) {
    selected.removeAttribute("aria-selected");
  }
  td.setAttribute("aria-selected", "true");
  writeState();
  showDetail();
}

function showDetail() {
  openDetail({ rows: matrix.rows.key, cols: matrix.cols.key, row: state.row, col: state.col }, {
    suspect: suspects[0],
    onClose() {
      state.row = undefined;
      state.col = undefined;
      for (const selected of table.querySelectorAll("[aria-selected]")) {
        selected.removeAttribute("aria-selected");
      }
      writeState();
      table.querySelector("td[tabindex='0']")?.focus();
    },
  });
}

form.addEventListener("submit", (event) => event.preventDefault());
form.addEventListener("change", () => {
  const data = new FormData(form);
  const regroup = data.get("rows") !== state.rows || data.get("cols") !== state.cols;
  state.rows = data.get("rows");
  state.cols = data.get("cols");
  state.metric = data.get("metric");
  state.sort = data.get("sort");
  if (regroup) {
    state.row = state.col = undefined;
    focused = { row: undefined, col: undefined };
    closeDetail();
  }
  writeState();
  if (regroup) load();
  else if (matrix !== undefined) render();
});
table.addEventListener("click", (event) => {
  const td = event.target.closest("td.cell");
  if (td !== null && !td.classList.contains("empty")) select(td);
});
table.addEventListener("keydown", (event) => {
  const td = event.target.closest("td.cell");
  if (td === null) return;
  const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
  if (event.key in moves) {
    event.preventDefault();
    moveFocus(td, ...moves[event.key]);
  } else if ((event.key === "Enter" || event.key === " ") && !td.classList.contains("empty")) {
    event.preventDefault();
    select(td);
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && state.row !== undefined) closeDetail({ notify: true });
});
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") load();
});

load();
