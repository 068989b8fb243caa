import { ProtocolError } from "@llama/core";
import { ScrapeRefusedError } from "./errors.ts";

/** Options of `getJson`. */
export interface GetJsonOptions {
  /** The collector's name, for messages. */
  collector: string;
  /** Aborts the request and the reading of its body: the scrape's deadline. */
  signal: AbortSignal;
  /** Most bytes of body taken, after any `Content-Encoding` is undone. */
  maxBytes: number;
  /** `fetch`, replaceable in tests. */
  fetch: typeof fetch;
}

/** What `getJson` got: a 404 (the caller may try the other API) or the parsed body. */
export type GetJsonResult = { status: 404 } | { status: 200; body: unknown };

/**
 * GETs `url` without following redirects and parses its body as JSON, reading at most
 * `maxBytes`: the body is read as a stream and decoded as it comes, so neither a declared
 * 500 MB, nor an endless body, nor a gzip bomb (fetch undoes the encoding as it streams: the
 * count is of the bytes it gives) makes the scraper hold more than the cap. Throws
 * `ScrapeRefusedError` for a redirect or a body over the cap, `ProtocolError` for any other
 * failure, each naming the collector and the URL.
 */
export async function getJson(url: URL, options: GetJsonOptions): Promise<GetJsonResult> {
  const what = `collector ${options.collector}: GET ${url}`;
  const failed = (error: unknown) =>
    new ProtocolError(
      `${what} failed: ${options.signal.aborted ? "timed out" : (error as Error).message}`,
      { cause: error },
    );
  let response: Response;
  try {
    response = await options.fetch(url, {
      signal: options.signal,
      headers: { accept: "application/json" },
      redirect: "manual",
    });
  } catch (error) {
    if (!options.signal.aborted && isCertificateError(error)) {
      throw new ScrapeRefusedError(
        `${what} failed: the collector's HTTPS certificate is not trusted ` +
          `(${describeCause(error)}); give its CA with --collector-ca (or collector_ca)`,
        "tls",
        { cause: error },
      );
    }
    throw failed(error);
  }
  if (response.status === 401 || response.status === 403) {
    await response.body?.cancel().catch(() => {});
    throw new ScrapeRefusedError(
      `${what} answered HTTP ${response.status}: the collector wants an API token ` +
        "(--collector-token-file, or collector_token_file), and ours is missing or wrong",
      "unauthorized",
    );
  }
  if (response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400)) {
    await response.body?.cancel().catch(() => {});
    const location = response.headers.get("location");
    throw new ScrapeRefusedError(
      `${what} answered HTTP ${response.status}, a redirect to ${location ?? "nowhere"}, ` +
        "which is not followed",
      "redirect",
    );
  }
  if (response.status === 404) {
    await response.body?.cancel().catch(() => {});
    return { status: 404 };
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    throw new ProtocolError(`${what} answered HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > options.maxBytes && !response.headers.has("content-encoding")) {
    await response.body?.cancel().catch(() => {});
    throw new ScrapeRefusedError(
      `${what} answered ${declared} bytes (content-length), more than the ` +
        `${options.maxBytes} of max_response_bytes`,
      "too_large",
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = await readBytes(response, options.maxBytes);
  } catch (error) {
    if (error instanceof TooLarge) {
      throw new ScrapeRefusedError(
        `${what} answered more than the ${options.maxBytes} bytes of max_response_bytes`,
        "too_large",
      );
    }
    throw failed(error);
  }
  // JSON.parse makes an object of every `{}` (3 bytes, some 100 of heap): 64 MiB of them took
  // 2.2 GB. A real summary has one object or list per 100 bytes or so.
  const containers = countContainers(bytes);
  if (containers > CONTAINERS_ALLOWED + bytes.byteLength / BYTES_PER_CONTAINER) {
    throw new ScrapeRefusedError(
      `${what} answered ${containers} objects and lists in ${bytes.byteLength} bytes, more than ` +
        `one per ${BYTES_PER_CONTAINER} bytes (a real summary has one per 100 or so)`,
      "too_dense",
    );
  }
  const text = new TextDecoder().decode(bytes);
  bytes = new Uint8Array(0);
  try {
    return { status: 200, body: JSON.parse(text) };
  } catch (error) {
    throw new ProtocolError(`${what} did not answer JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

class TooLarge extends Error {}

/** Whether a failed fetch failed on the peer's certificate (Deno names it in the cause). */
function isCertificateError(error: unknown): boolean {
  return /certificate|UnknownIssuer|NotValidForName/i.test(describeCause(error));
}

/** The innermost message of an error and its causes (fetch's own is "fetch failed"). */
function describeCause(error: unknown): string {
  let innermost = error;
  for (let depth = 0; depth < 4 && innermost instanceof Error && innermost.cause; depth++) {
    innermost = innermost.cause;
  }
  const message = innermost instanceof Error ? innermost.message : String(innermost);
  return message.replace(/^.*client error \(Connect\): /, "");
}

/** Objects and lists a body may hold: this many, plus one per `BYTES_PER_CONTAINER` bytes. */
const CONTAINERS_ALLOWED = 1024;
const BYTES_PER_CONTAINER = 32;

/** The `{` and `[` in `bytes` (those inside strings too: an upper bound of what parsing makes). */
function countContainers(bytes: Uint8Array): number {
  let count = 0;
  for (let index = 0; index < bytes.length; index++) {
    const byte = bytes[index];
    if (byte === 0x7b || byte === 0x5b) count++;
  }
  return count;
}

/** Size of the blocks a body is gathered in. */
const BLOCK_BYTES = 1024 * 1024;

/**
 * The body, read until its end or until it passes `maxBytes` (then `TooLarge`). Bytes are
 * kept, not text, until the end (decoded text may take two bytes a character), in blocks of our
 * own: fetch's body is read straight into them (a BYOB reader), so a body refused at the cap has
 * cost that many bytes and no more. Without BYOB (a `Response` made in a test), chunks are copied
 * in: they are often small views of larger buffers, which keeping would hold several times over.
 */
async function readBytes(response: Response, maxBytes: number): Promise<Uint8Array> {
  if (response.body === null) return new Uint8Array(0);
  const blocks = new Blocks(maxBytes);
  let reader: ReadableStreamBYOBReader | ReadableStreamDefaultReader<Uint8Array>;
  try {
    reader = response.body.getReader({ mode: "byob" });
  } catch {
    reader = response.body.getReader();
  }
  try {
    for (;;) {
      const { done, value } = reader instanceof ReadableStreamBYOBReader
        ? await reader.read(blocks.space())
        : await reader.read();
      if (value !== undefined) {
        if (reader instanceof ReadableStreamBYOBReader) blocks.filled(value);
        else blocks.append(value);
      }
      if (done) break;
    }
  } catch (error) {
    blocks.clear();
    await reader.cancel().catch(() => {});
    throw error;
  }
  return blocks.bytes();
}

/** Bytes gathered in blocks of `BLOCK_BYTES`, at most `maxBytes` (more throws `TooLarge`). */
class Blocks {
  readonly #maxBytes: number;
  #blocks: Uint8Array[] = [];
  #filled = BLOCK_BYTES;
  #total = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** The free end of the last block (a new block when it is full), for a BYOB read. */
  space(): Uint8Array {
    if (this.#filled === BLOCK_BYTES) {
      this.#blocks.push(new Uint8Array(BLOCK_BYTES));
      this.#filled = 0;
    }
    return this.#blocks[this.#blocks.length - 1].subarray(this.#filled);
  }

  /** Takes what a BYOB read put in `space()`: `view` is over the block's buffer, transferred. */
  filled(view: Uint8Array): void {
    this.#blocks[this.#blocks.length - 1] = new Uint8Array(view.buffer as ArrayBuffer);
    this.#count(view.byteLength);
    this.#filled += view.byteLength;
  }

  /** Copies `chunk` in. */
  append(chunk: Uint8Array): void {
    this.#count(chunk.byteLength);
    for (let offset = 0; offset < chunk.byteLength;) {
      const space = this.space();
      const part = chunk.subarray(offset, offset + space.byteLength);
      space.set(part);
      this.#filled += part.byteLength;
      offset += part.byteLength;
    }
  }

  /** Everything, in one array; the blocks are let go. */
  bytes(): Uint8Array {
    const bytes = new Uint8Array(this.#total);
    for (const [index, block] of this.#blocks.entries()) {
      const offset = index * BLOCK_BYTES;
      bytes.set(block.subarray(0, Math.min(BLOCK_BYTES, this.#total - offset)), offset);
    }
    this.clear();
    return bytes;
  }

  clear(): void {
    this.#blocks = [];
  }

  #count(bytes: number): void {
    this.#total += bytes;
    if (this.#total > this.#maxBytes) throw new TooLarge();
  }
}
