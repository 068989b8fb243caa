// The hop-by-hop traces of a cell's flows (api/v1/traces): for each traced flow of the paths shown,
// what answered at each TTL, its loss and RTT, with the fleet's top suspect link marked where the
// flow's trace crosses it.
import { element, getOptionalJson, message } from "./dom.js";
import { lossLevel, milliseconds, percent } from "./scale.js";
import { linkLabel } from "./suspects.js";

const TRACES_SHOWN = 12;
const REASONS = {
  baseline: "baseline",
  loss: "after loss",
  control: "control (a clean flow)",
  request: "on request",
};

/**
 * The server's traces: `{ traces }` when it traces, `{ note }` when it does not (no route, or
 * `tracing.available: false` and its reason), `{ error }` when they could not be read. Never throws.
 */
export async function fetchTraces() {
  const answer = await getOptionalJson("api/v1/traces");
  if (answer.status === 404) return { note: "This server does not trace flows." };
  if (answer.error !== undefined) return { error: answer.error };
  const { tracing, traces } = answer.body ?? {};
  if (tracing?.available === false) {
    return { note: `Tracing is off here: ${tracing.reason ?? "no reason given"}.` };
  }
  if (!Array.isArray(traces)) return { error: "the answer has no traces list" };
  return { traces };
}

/**
 * The traces section for `paths` (those of the open cell): each traced flow of each path (target
 * = dstIp, source = srcIp), the lossiest first, then by path and source port; `suspect`, the top
 * suspect link, is marked in every trace that crosses it.
 */
export function traceSection(paths, answer, suspect) {
  const title = element("h3", { textContent: "Hop by hop" });
  if (answer.note !== undefined) {
    return section([
      title,
      element("p", { className: "muted trace-note", textContent: answer.note }),
    ]);
  }
  if (answer.error !== undefined) {
    return section([title, message(`Cannot load the traces: ${answer.error}`)]);
  }
  const order = new Map(paths.map((path, index) => [`${path.srcIp}\n${path.dstIp}`, index]));
  const traced = answer.traces
    .filter((trace) => order.has(`${trace.source}\n${trace.target}`))
    .sort((a, b) =>
      (b.flowLossPercent ?? -1) - (a.flowLossPercent ?? -1) ||
      order.get(`${a.source}\n${a.target}`) - order.get(`${b.source}\n${b.target}`) ||
      a.srcPort - b.srcPort
    );
  if (traced.length === 0) return section([title, message("No traces of these paths yet.")]);
  const shown = traced.slice(0, TRACES_SHOWN);
  title.textContent = traced.length > shown.length
    ? `Hop by hop: the ${shown.length} lossiest of ${traced.length} traced flows`
    : `Hop by hop: ${traced.length} traced flow${traced.length === 1 ? "" : "s"}`;
  return section([title, ...shown.map((trace) => traceBlock(trace, suspect))]);
}

function section(children) {
  return element("section", { className: "traces" }, children);
}

function traceBlock(trace, suspect) {
  const place = suspectPlace(trace, suspect);
  const flow = `${trace.source}:${trace.srcPort} → ${trace.target}:${trace.dstPort}`;
  const name = element("h4", { textContent: flow });
  if (trace.pathChanged) {
    name.append(" ", element("span", { className: "badge changed", textContent: "path changed" }));
  }
  if (place !== undefined) {
    name.append(
      " ",
      element("span", { className: "badge suspect", textContent: "crosses the top suspect" }),
    );
  }
  const block = element("article", { className: "trace" }, [
    name,
    facts(trace),
    hops(trace, place),
  ]);
  block.dataset.srcPort = String(trace.srcPort);
  block.dataset.target = trace.target;
  if (place !== undefined) block.classList.add("crosses-suspect");
  return block;
}

function facts(trace) {
  const started = element("time", {
    dateTime: trace.startedAt,
    textContent: new Date(trace.startedAt).toLocaleTimeString(),
    title: `${trace.startedAt} to ${trace.finishedAt}`,
  });
  const parts = [
    `flow loss ${percent(trace.flowLossPercent)}`,
    `${trace.reachedTarget ? "reached" : "did not reach"} the target`,
    trace.reverseHops === null
      ? "reverse hops unknown"
      : `${trace.reverseHops} hop${trace.reverseHops === 1 ? "" : "s"} back`,
    `TOS ${trace.tos}`,
  ];
  if (typeof trace.collector === "string") parts.push(`collector ${trace.collector}`);
  const line = element("p", { className: "muted trace-facts" });
  line.append(`Traced ${REASONS[trace.reason] ?? String(trace.reason)} at `, started, " · ");
  line.append(parts.join(" · "));
  return line;
}

function hops(trace, place) {
  const head = element("thead", {}, [
    element(
      "tr",
      {},
      ["TTL", "Address", "Loss", "RTT ms", "Kind"].map((text) =>
        element("th", {
          scope: "col",
          className: text === "Address" || text === "Kind" ? "text" : "",
          textContent: text,
        })
      ),
    ),
  ]);
  const body = element("tbody");
  if (place !== undefined && place.after === undefined) body.append(linkRow(place.suspect));
  for (const hop of trace.hops) {
    const tr = hopRow(hop);
    if (hop === place?.marked) {
      tr.classList.add("suspect");
      tr.title = `Top suspect: ${linkLabel(place.suspect)}`;
    }
    body.append(tr);
    if (place !== undefined && hop === place.after) body.append(linkRow(place.suspect));
  }
  return element("table", { className: "hop-table" }, [head, body]);
}

function hopRow(hop) {
  const others = hop.addresses.filter((answer) => answer.address !== hop.address);
  const address = element("td", { className: "address", textContent: hop.address ?? "*" });
  if (others.length > 0) {
    address.append(" ", element("span", { className: "muted", textContent: `+${others.length}` }));
    address.title = hop.addresses.map((answer) => `${answer.address} (${answer.replies})`)
      .join(", ");
  }
  const tr = element("tr", { className: `hop kind-${hop.kind}` }, [
    element("th", { scope: "row", textContent: String(hop.ttl) }),
    address,
    element("td", {
      className: `loss level-${lossLevel(hop.lossPercent)}`,
      textContent: percent(hop.lossPercent),
      title: `${hop.received} of ${hop.sent} probes answered`,
    }),
    element("td", {
      textContent: hop.rtt === null ? "–" : milliseconds(hop.rtt).replace(/ ms$/, ""),
    }),
    element("td", { className: "kind", textContent: hop.kind }),
  ]);
  tr.dataset.ttl = String(hop.ttl);
  tr.dataset.address = hop.address ?? "";
  tr.dataset.loss = String(hop.lossPercent);
  return tr;
}

function linkRow(suspect) {
  const label = `Top suspect link: ${linkLabel(suspect)}, score ${suspect.score.toFixed(2)}`;
  const cell = element("td", { colSpan: 5, textContent: `▲ ${label}` });
  const tr = element("tr", { className: "suspect-link" }, [cell]);
  tr.setAttribute("aria-label", label);
  return tr;
}

/**
 * Where `suspect` lies on `trace`, if it does: the hop after which the link leaves (undefined for
 * the collector's own address), and the hop to mark (the far side; the near side when nothing
 * answers past it). Silent hops are skipped: a link joins consecutive answering addresses.
 */
function suspectPlace(trace, suspect) {
  if (suspect === undefined) return undefined;
  const chain = [
    { address: trace.source, hop: undefined },
    ...trace.hops.filter((hop) => hop.address !== null).map((hop) => ({
      address: hop.address,
      hop,
    })),
  ];
  for (let index = 0; index < chain.length; index++) {
    if (chain[index].address !== suspect.from) continue;
    const next = chain[index + 1];
    if (suspect.to === null) {
      if (next === undefined && !trace.reachedTarget) {
        return { suspect, after: chain[index].hop, marked: chain[index].hop };
      }
    } else if (next?.address === suspect.to) {
      return { suspect, after: chain[index].hop, marked: next.hop };
    }
  }
  return undefined;
}
