// Checks shared by the API security tests: every route of a server refuses a request without a
// token or with a wrong one, and answers one with the right token; /status stays open.
import { ok as assert, strictEqual as assertEquals } from "node:assert/strict";

/** A request to a locked-down server, through `client` (which trusts its CA). */
export async function request(
  url: string,
  options: { client?: Deno.HttpClient; token?: string; method?: string; body?: string } = {},
): Promise<{ status: number; text: string }> {
  const response = await fetch(url, {
    method: options.method ?? "GET",
    body: options.body,
    headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
    signal: AbortSignal.timeout(10_000),
    ...(options.client === undefined ? {} : { client: options.client }),
  } as RequestInit);
  return { status: response.status, text: await response.text() };
}

/**
 * The routes a server lists when asked for one it does not have (`no route /x; routes: …`), as
 * the collector and the matrix server do: every route, whatever is added later.
 */
export async function listedRoutes(
  base: string,
  options: { client?: Deno.HttpClient; token: string },
): Promise<string[]> {
  const answer = await request(`${base}/no-such-route`, options);
  assertEquals(answer.status, 404, answer.text);
  const match = /routes: ([^"]+)/.exec(answer.text);
  assert(match !== null, answer.text);
  return match[1].split(", ");
}

/**
 * Asserts that each GET route answers 401 without a token and with `wrongToken`, and 200 with
 * `token`; and that `/status` answers 200 without one.
 */
export async function assertEveryRouteLocked(
  base: string,
  routes: readonly string[],
  options: { client?: Deno.HttpClient; token: string; wrongToken: string },
): Promise<void> {
  for (const route of routes.filter((route) => route !== "/status")) {
    const none = await request(`${base}${route}`, { client: options.client });
    assertEquals(none.status, 401, `${route} without a token: ${none.text}`);
    const wrong = await request(`${base}${route}`, {
      client: options.client,
      token: options.wrongToken,
    });
    assertEquals(wrong.status, 401, `${route} with a wrong token: ${wrong.text}`);
    const right = await request(`${base}${route}`, options);
    assertEquals(right.status, 200, `${route} with the token: ${right.text.slice(0, 200)}`);
  }
  const status = await request(`${base}/status`, { client: options.client });
  assertEquals(status.status, 200, `/status without a token: ${status.text}`);
}
