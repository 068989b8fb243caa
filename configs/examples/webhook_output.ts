/**
 * An output plugin that POSTs each batch of points as JSON to a URL. Name it in a scraper config:
 *
 * ```yaml
 * outputs:
 *   - use: ./examples/webhook_output.ts    # relative to the config file
 *     options: { url: "http://127.0.0.1:9000/points", headers: { authorization: "Bearer xyz" } }
 * ```
 *
 * The scraper batches, retries (with backoff), times out and logs around `write`, so the plugin
 * only sends and says whether a failure is worth retrying.
 *
 * @module
 */
import { PluginError } from "@llama/core";
import { OptionsReader, type OutputPlugin, PLUGIN_CONTRACT_VERSION } from "@llama/plugins";

/** What `parseOptions` makes of the config's `options:`. */
interface WebhookOptions {
  url: URL;
  headers: Record<string, string>;
}

const webhook: OutputPlugin<WebhookOptions> = {
  kind: "output",
  name: "webhook",
  contract: PLUGIN_CONTRACT_VERSION,
  // Pure: runs for `--check` too, before anything connects. Errors name `outputs[N].options.url`.
  parseOptions(raw, path) {
    const options = new OptionsReader(raw, path, "webhook");
    options.required("url", "the URL to POST points to"); // throws when it is missing
    const url = options.url("url", ["http:", "https:"])!;
    const headers = options.strings("headers");
    options.done(); // refuses unknown options (typos)
    return { url, headers };
  },
  create(options, context) {
    return {
      async write(points, signal) {
        let response: Response;
        try {
          response = await fetch(options.url, {
            method: "POST",
            headers: { ...options.headers, "content-type": "application/json" },
            body: JSON.stringify({ points }),
            signal, // the host aborts it when the write takes too long
          });
        } catch (error) {
          // Unreachable or timed out: retryable (the default), the host tries again later.
          throw new PluginError(context.name, `${options.url.origin} unreachable`, {
            cause: error,
          });
        }
        const text = await response.text(); // read the body, so the connection can be reused
        if (response.ok) return;
        // 4xx: the server refuses these points, sending them again cannot help (except 408, 429).
        const retryable = response.status >= 500 || [408, 429].includes(response.status);
        throw new PluginError(context.name, `HTTP ${response.status}: ${text.slice(0, 200)}`, {
          retryable,
        });
      },
    };
  },
};

export default webhook;
