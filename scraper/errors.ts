import { type LlamaErrorOptions, ProtocolError } from "@llama/core";

/**
 * Why a collector's answer was refused: before it was read (a redirect, too large, too dense),
 * or, for `/api/v1/traces`, because its body broke the trace contract (`invalid_traces`); or
 * why there was none: the collector wants an API token the scraper did not send or it refused
 * (`unauthorized`: HTTP 401 or 403), or its HTTPS certificate is not trusted (`tls`).
 */
export type RefusalReason =
  | "redirect"
  | "too_large"
  | "too_dense"
  | "invalid_traces"
  | "unauthorized"
  | "tls";

/** Every refusal reason, in the order the metrics list them. */
export const REFUSAL_REASONS: readonly RefusalReason[] = Object.freeze([
  "redirect",
  "too_large",
  "too_dense",
  "invalid_traces",
  "unauthorized",
  "tls",
]);

/**
 * A collector's answer that the scraper would not take: a redirect (never followed: it could
 * send the scraper's GET anywhere, such as a database's `/query?q=DROP+DATABASE+…`), a body
 * over `max_response_bytes`, or one holding far more objects and lists than a summary does (each
 * becomes an object when parsed). `reason` says which, for the metrics.
 *
 * @example
 * ```ts
 * import { ScrapeRefusedError } from "@llama/scraper";
 * const error = new ScrapeRefusedError("collector c1: GET http://c1:5000/influxdata answered HTTP 302", "redirect");
 * console.assert(error.reason === "redirect" && error.name === "ScrapeRefusedError");
 * ```
 */
export class ScrapeRefusedError extends ProtocolError {
  /** What was refused. */
  readonly reason: RefusalReason;

  /** Creates the error: `message` names the collector, the URL and what was refused. */
  constructor(message: string, reason: RefusalReason, options?: LlamaErrorOptions) {
    super(message, options);
    this.name = "ScrapeRefusedError";
    this.reason = reason;
  }
}
