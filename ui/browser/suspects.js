// The fleet's top suspect links (api/v1/suspects): the links that the traces of lossy flows cross
// and clean flows avoid, highest score first. Hidden where there are none, or no tracing.
import { element, getOptionalJson } from "./dom.js";

const SUSPECTS_SHOWN = 10;
const EXAMPLES_SHOWN = 2;
const TEXT_COLUMNS = ["Link", "Examples"];

/** `from → to`, or `from → nothing answers past` when nothing answers past `from`. */
export function linkLabel(suspect) {
  return `${suspect.from} → ${suspect.to ?? "nothing answers past"}`;
}

/**
 * Reads api/v1/suspects and draws them into `panel` (hidden when there are none, the server ranks
 * none, or they cannot be read); resolves to the suspects, highest score first. Never throws.
 */
export async function refreshSuspects(panel) {
  const answer = await getOptionalJson("api/v1/suspects");
  const body = answer.body;
  const suspects = Array.isArray(body?.suspects)
    ? [...body.suspects].sort((a, b) => b.score - a.score)
    : [];
  panel.hidden = suspects.length === 0;
  if (suspects.length === 0) {
    panel.replaceChildren();
    return suspects;
  }
  const shown = suspects.slice(0, SUSPECTS_SHOWN);
  const withCollectors = shown.some((suspect) => typeof suspect.collectors === "number");
  const columns = ["#", "Link", "Score", "Lossy flows", "Clean flows", "Onset"];
  if (withCollectors) columns.push("Collectors");
  columns.push("Examples");
  const head = element("thead", {}, [
    element(
      "tr",
      {},
      columns.map((text) =>
        element("th", {
          scope: "col",
          className: TEXT_COLUMNS.includes(text) ? "text" : "",
          textContent: text,
        })
      ),
    ),
  ]);
  const rows = shown.map((suspect, index) => suspectRow(suspect, index, withCollectors));
  const title = element("h2", {
    id: "suspects-title",
    textContent: suspects.length > shown.length
      ? `Suspect links: the top ${shown.length} of ${suspects.length}`
      : `Suspect link${suspects.length === 1 ? "" : "s"}`,
  });
  const note = element("p", {
    className: "muted",
    textContent: `Ranked from the traces of ${body.lossyFlows} lossy and ${body.cleanFlows} clean` +
      " flows; 1 means every lossy flow crosses the link and no clean one does.",
  });
  panel.replaceChildren(
    title,
    note,
    element("table", { className: "suspect-table" }, [head, element("tbody", {}, rows)]),
  );
  return suspects;
}

function suspectRow(suspect, index, withCollectors) {
  const link = element("th", { scope: "row", className: "link" }, [suspect.from, " → "]);
  link.append(
    suspect.to === null
      ? element("span", { className: "muted", textContent: "nothing answers past" })
      : suspect.to,
  );
  // A high score is bad news: the optimum is 0, so chromium draws high scores red.
  const meter = element("meter", {
    min: 0,
    max: 1,
    low: 0.3,
    high: 0.6,
    optimum: 0,
    value: suspect.score,
  });
  meter.setAttribute("aria-label", `score ${suspect.score.toFixed(2)}`);
  const cells = [
    element("td", { textContent: String(index + 1) }),
    link,
    element("td", { className: "score" }, [meter, ` ${suspect.score.toFixed(2)}`]),
    element("td", { textContent: String(suspect.lossyFlows) }),
    element("td", { textContent: String(suspect.cleanFlows) }),
    element("td", { textContent: String(suspect.onsetFlows) }),
  ];
  if (withCollectors) {
    cells.push(element("td", { textContent: String(suspect.collectors ?? "–") }));
  }
  const examples = suspect.examples ?? [];
  const more = examples.length - EXAMPLES_SHOWN;
  cells.push(element("td", {
    className: "examples",
    textContent: examples.slice(0, EXAMPLES_SHOWN).join(", ") + (more > 0 ? ` +${more}` : ""),
    title: examples.join("\n"),
  }));
  const tr = element("tr", { className: index === 0 ? "suspect top" : "suspect" }, cells);
  tr.dataset.from = suspect.from;
  tr.dataset.to = suspect.to ?? "";
  tr.dataset.score = String(suspect.score);
  return tr;
}
