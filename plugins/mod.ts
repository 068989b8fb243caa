/**
 * llama's plugin contract, loader and built-in plugins: outputs (`influxdb`, `remote_write`,
 * `stdout`, `csv`) and tag resolvers (`static`, `dns`). A plugin module's default export
 * describes the plugin; see `docs/plugins.md` for a guide with a complete example.
 *
 * @example A custom output
 * ```ts
 * import { OptionsReader, type OutputPlugin, PLUGIN_CONTRACT_VERSION } from "@llama/plugins";
 *
 * const counter: OutputPlugin<{ label: string }> = {
 *   kind: "output",
 *   name: "counter",
 *   contract: PLUGIN_CONTRACT_VERSION,
 *   parseOptions(raw, path) {
 *     const options = new OptionsReader(raw, path, "counter");
 *     const label = options.string("label", "points")!;
 *     options.done();
 *     return { label };
 *   },
 *   create(options, context) {
 *     return {
 *       write(points) {
 *         context.logger.info("{count} {label}", { count: points.length, label: options.label });
 *         return Promise.resolve();
 *       },
 *     };
 *   },
 * };
 * export default counter;
 * ```
 *
 * @module
 */
export {
  type Output,
  type OutputPlugin,
  type Plugin,
  PLUGIN_CONTRACT_VERSION,
  type PluginBase,
  type PluginCheckContext,
  type PluginContext,
  type PluginLogger,
  type Point,
  type TagResolver,
  type TagResolverPlugin,
} from "./contract.ts";
export { OptionsReader } from "./options.ts";
export { loadPlugin, type LoadPluginOptions } from "./loader.ts";
export type { Precision } from "./line_protocol.ts";
export { type StdoutOptions, stdoutOutput } from "./outputs/stdout.ts";
export { type CsvOptions, csvOutput } from "./outputs/csv.ts";
export { type InfluxdbOptions, influxdbOutput } from "./outputs/influxdb.ts";
export { type RemoteWriteOptions, remoteWriteOutput } from "./outputs/remote_write.ts";
export { staticTags, type StaticTagsOptions } from "./tags/static.ts";
export { dnsTags, type DnsTagsOptions } from "./tags/dns.ts";
