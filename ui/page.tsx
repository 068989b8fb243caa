import type { JSX } from "hono/jsx/jsx-runtime";
import type { GroupingKeys } from "./matrix.ts";

/** The metrics a cell can be coloured by. */
export const METRICS = ["loss", "p50", "p99"] as const;
/** How rows and columns can be ordered. */
export const ORDERS = ["name", "worst"] as const;

/** The view a URL asks for; the browser module keeps it in the query string. */
export interface ViewState {
  /** Grouping key of the rows. */
  rows: string;
  /** Grouping key of the columns. */
  cols: string;
  /** What colours the cells. */
  metric: typeof METRICS[number];
  /** Order of rows and columns. */
  sort: typeof ORDERS[number];
}

const METRIC_LABELS: Record<ViewState["metric"], string> = {
  loss: "Loss %",
  p50: "RTT p50",
  p99: "RTT p99",
};

/** The page's shell: controls rendered from the data's keys; `ui/matrix.js` fills in the rest. */
export function MatrixPage(
  props: { description: string; keys: GroupingKeys; state: ViewState },
): JSX.Element {
  const { state, keys } = props;
  // A link may name a key no path has yet (a collector that just started): keep it selectable.
  const rowKeys = keys.rows.includes(state.rows) ? keys.rows : [...keys.rows, state.rows];
  const colKeys = keys.cols.includes(state.cols) ? keys.cols : [...keys.cols, state.cols];
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>llama: loss and latency matrix — {props.description}</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href="ui/matrix.css" />
        <link rel="stylesheet" href="ui/trace.css" />
        <script type="module" src="ui/matrix.js"></script>
      </head>
      <body>
        <header>
          <h1>llama</h1>
          <p id="source">{props.description}</p>
          <p id="status" role="status" aria-live="polite">Loading…</p>
        </header>
        <form id="controls" method="get" action="">
          <label>
            Rows <KeySelect name="rows" keys={rowKeys} selected={state.rows} />
          </label>
          <label>
            Columns <KeySelect name="cols" keys={colKeys} selected={state.cols} />
          </label>
          <fieldset>
            <legend>Colour by</legend>
            {METRICS.map((metric) => (
              <label key={metric}>
                <input
                  type="radio"
                  name="metric"
                  value={metric}
                  checked={metric === state.metric}
                />
                {METRIC_LABELS[metric]}
              </label>
            ))}
          </fieldset>
          <label>
            Order{" "}
            <select name="sort">
              <option value="name" selected={state.sort === "name"}>by name</option>
              <option value="worst" selected={state.sort === "worst"}>worst first</option>
            </select>
          </label>
          <noscript>
            <button type="submit">Apply</button>
            <p>The matrix needs JavaScript; its data is at api/v1/matrix and api/v1/history.</p>
          </noscript>
        </form>
        <div id="legend" aria-label="Colour scale"></div>
        <section id="suspects" hidden aria-labelledby="suspects-title"></section>
        <main>
          <div id="matrix-scroll">
            <table id="matrix" role="grid" aria-describedby="matrix-help">
              <caption id="matrix-help">
                Sources by {state.rows} (rows) to destinations by {state.cols}{" "}
                (columns). Arrow keys move between cells; Enter opens one.
              </caption>
            </table>
          </div>
          <aside id="detail" hidden aria-labelledby="detail-title"></aside>
        </main>
      </body>
    </html>
  );
}

function KeySelect(props: { name: string; keys: string[]; selected: string }): JSX.Element {
  return (
    <select name={props.name}>
      {props.keys.map((key) => (
        <option key={key} value={key} selected={key === props.selected}>{key}</option>
      ))}
    </select>
  );
}
