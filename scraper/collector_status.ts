/**
 * How each collector is doing, as a running scraper tells.
 *
 * @module
 */
import type { CollectorTarget } from "./config.ts";
import type { RefusalReason } from "./errors.ts";

/** How one collector is doing. */
export interface CollectorStatus {
  /** The collector. */
  collector: CollectorTarget;
  /** Which API it answers: `llama`, `original`, or undefined before the first success. */
  api: "llama" | "original" | undefined;
  /** Scrapes by outcome. */
  ok: number;
  /** Failed scrapes. */
  failed: number;
  /** Scrapes that found the interval already written. */
  stale: number;
  /** Points scraped. */
  points: number;
  /** Paths, flows and points left out because they broke the summary's contract. */
  invalid: number;
  /**
   * Answers refused by why: redirects (never followed), bodies over `max_response_bytes`, and
   * bodies far denser in objects and lists than a summary, and `/api/v1/traces` bodies breaking
   * the trace contract; requests the collector answered 401 or 403, and HTTPS connections to
   * it whose certificate was not trusted.
   */
  refused: Record<RefusalReason, number>;
  /** Whether it traces flows (`/api/v1/traces`); undefined before its traces were first asked. */
  tracing: boolean | undefined;
  /** Whether the last scrape succeeded. */
  up: boolean;
  /** The last failure, if the last scrape failed. */
  lastError: string | undefined;
  /** Duration of the last scrape, ms. */
  lastDurationMs: number;
  /** Start of the last interval written from it. */
  lastInterval: number;
  /**
   * Intervals it published that were never taken: the scraper takes a collector's latest
   * interval, and was down or failing while these were the latest.
   */
  missed: number;
}
