/**
 * Prometheus HTTP SD: a JSON list of target groups polled from a URL with conditional requests
 * (`If-None-Match` with the last ETag, `If-Modified-Since` with the last `Last-Modified`), so an
 * unchanged list costs a 304 and no parse.
 *
 * @module
 */
import type { TagInterner } from "./_config_fields.ts";
import type { DiscoverySource } from "./_discovery_config.ts";
import { DiscoveryError, inSource, readTargetGroups, type SourceReader } from "./_sd_groups.ts";

/** A reader of the HTTP SD URL `source.source`, through `fetch`. */
export function httpSdReader(
  source: DiscoverySource,
  interner: TagInterner,
  fetcher: typeof fetch = fetch,
): SourceReader {
  const url = source.source;
  let etag: string | undefined;
  let lastModified: string | undefined;
  return {
    async read() {
      const headers: Record<string, string> = {
        accept: "application/json",
        // Prometheus sends it: a server may tune its caching to the poll.
        "x-prometheus-refresh-interval-seconds": String(source.refreshSeconds),
      };
      if (etag !== undefined) headers["if-none-match"] = etag;
      if (lastModified !== undefined) headers["if-modified-since"] = lastModified;
      let response: Response;
      let text: string;
      try {
        response = await fetcher(url, {
          headers,
          signal: AbortSignal.timeout(source.timeoutSeconds * 1000),
        });
        text = await response.text();
      } catch (error) {
        throw new DiscoveryError(`cannot fetch ${url}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      if (response.status === 304 && (etag !== undefined || lastModified !== undefined)) {
        return { targets: undefined };
      }
      if (response.status !== 200) {
        throw new DiscoveryError(
          `${url} answered ${response.status} ${response.statusText}`.trimEnd() +
            (text === "" ? "" : `: ${text.slice(0, 200)}`),
        );
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        throw new DiscoveryError(
          `${url} answered 200 with a body that is not JSON (${
            response.headers.get("content-type") ?? "no content-type"
          }): ${(error as Error).message}`,
          { cause: error },
        );
      }
      let targets;
      try {
        targets = readTargetGroups(value, source, interner);
      } catch (error) {
        throw inSource(url, error);
      }
      etag = response.headers.get("etag") ?? undefined;
      lastModified = response.headers.get("last-modified") ?? undefined;
      return { targets };
    },
    reset() {
      etag = undefined;
      lastModified = undefined;
    },
  };
}
