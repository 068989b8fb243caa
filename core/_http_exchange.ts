/**
 * Answers one `node:http` request with a fetch-style handler (`Request` in, `Response` out), as
 * `Deno.serve` would, writing the body only as fast as the client reads it.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";

/** A fetch-style handler, as `Deno.serve` takes (Hono's `app.fetch` is one). */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/**
 * Builds the `Request`, calls `handler`, and writes its `Response`: a chunk at a time, waiting
 * for `drain` whenever the socket's buffer is full, and cancelling the body when the client goes
 * (the request's `signal` is aborted then too). A handler that throws gets `onError`'s answer.
 */
export async function answerExchange(
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  handler: FetchHandler,
  onError: (error: unknown) => Response,
): Promise<void> {
  const abort = new AbortController();
  outgoing.once("close", () => abort.abort());
  let response: Response;
  try {
    response = await handler(toRequest(incoming, abort.signal));
  } catch (error) {
    response = onError(error);
  }
  if (outgoing.destroyed) {
    await response.body?.cancel().catch(() => {});
    return;
  }
  outgoing.statusCode = response.status;
  for (const [name, value] of response.headers) {
    if (name === "set-cookie") outgoing.setHeader(name, response.headers.getSetCookie());
    else outgoing.setHeader(name, value);
  }
  if (response.body === null || incoming.method === "HEAD") {
    await response.body?.cancel().catch(() => {});
    outgoing.end();
    return;
  }
  const reader = response.body.getReader();
  try {
    while (!outgoing.destroyed) {
      const next = await reader.read();
      if (next.done) {
        outgoing.end();
        return;
      }
      if (!outgoing.write(next.value)) await drained(outgoing);
    }
  } catch (error) {
    // The body failed after its head was sent: all that can be said is to cut the connection.
    outgoing.destroy(error as Error);
  } finally {
    if (outgoing.destroyed) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

function toRequest(incoming: IncomingMessage, signal: AbortSignal): Request {
  const headers = new Headers();
  const raw = incoming.rawHeaders;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    try {
      headers.append(raw[index], raw[index + 1]);
    } catch { /* a header value fetch refuses is left out */ }
  }
  const method = incoming.method ?? "GET";
  const host = /^[A-Za-z0-9.:\[\]-]+$/.test(headers.get("host") ?? "")
    ? headers.get("host")!
    : "localhost";
  let url: URL;
  try {
    url = new URL(incoming.url ?? "/", `http://${host}`);
  } catch {
    url = new URL("/", `http://${host}`);
  }
  const body = method === "GET" || method === "HEAD"
    ? null
    : Readable.toWeb(incoming) as ReadableStream<Uint8Array>;
  return new Request(url, { method, headers, body, signal, duplex: "half" } as RequestInit);
}

/** Resolves when `outgoing` can take more, or is closed. */
function drained(outgoing: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      outgoing.off("drain", done);
      outgoing.off("close", done);
      resolve();
    };
    outgoing.on("drain", done);
    outgoing.on("close", done);
  });
}
