// Small DOM and fetch helpers shared by the page's modules. Every string from the API goes into
// the page through textContent or an attribute, never as HTML: addresses come from the network.

/** A new `tag` element with `properties` (textContent, className, …) and `children` appended. */
export function element(tag, properties = {}, children = []) {
  const node = Object.assign(document.createElement(tag), properties);
  node.append(...children);
  return node;
}

/** A muted paragraph. */
export function message(text) {
  return element("p", { className: "muted", textContent: text });
}

/** The JSON of `url`; throws with the server's `error` (or the status) when it is not 2xx. */
export async function getJson(url) {
  const response = await fetch(url, { cache: "no-store" });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
  return body;
}

/**
 * The JSON of a route the server may not have (a collector without tracing): `{ status: 404 }`
 * when it has not, `{ status, body }` when it answered JSON, `{ error }` when it could not be read.
 * Never throws.
 */
export async function getOptionalJson(url) {
  try {
    const response = await fetch(url, { cache: "no-store" });
    if (response.status === 404) return { status: 404 };
    const body = await response.json();
    if (!response.ok) return { error: body?.error ?? `HTTP ${response.status}` };
    return { status: response.status, body };
  } catch (error) {
    return { error: error.message };
  }
}
