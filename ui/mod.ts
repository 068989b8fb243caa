/**
 * The loss and latency matrix in a browser: sources × destinations grouped by any tag, coloured by
 * loss or RTT, with each cell's paths, flows and last intervals one click away. Served at `/` by
 * the collector and by the scraper's `--ui`; no build step: the page is rendered on the server
 * with Hono's JSX, and small browser modules read the JSON API (and, where collectors trace
 * their flows, each flow's hops and the fleet's suspect links).
 *
 * @example
 * ```ts
 * import { createMatrixUi } from "@llama/ui";
 * const ui = createMatrixUi({ history: () => [], describe: () => "an empty example" });
 * const page = await ui.request("/");
 * console.assert((await page.text()).includes("an empty example"));
 * ```
 *
 * @module
 */
export type {
  FlowLike,
  IntervalLike,
  MatrixSource,
  PathLike,
  RttLike,
  StatisticsLike,
} from "./types.ts";
export { createMatrixUi, type MatrixUi, type MatrixUiOptions } from "./api.ts";
export { type MatrixServer, serveMatrixUi, type ServeMatrixUiOptions } from "./serve.ts";
