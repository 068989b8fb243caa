/**
 * The llama reflector: answers `llama.Probe` datagrams, compatible with Dropbox's LLAMA, so
 * collectors can measure loss and latency to this host. Run it with
 * `deno run -A --unstable-net jsr:@llama/reflector`, or embed it:
 *
 * @example
 * ```ts
 * import { startReflector } from "@llama/reflector";
 * await using reflector = await startReflector({ hostname: "127.0.0.1", port: 0, maxPps: 0 });
 * console.assert(reflector.counters().received === 0);
 * ```
 *
 * @module
 */
export {
  DEFAULT_REFUSED_SOURCE_PORTS,
  type InvalidReason,
  parseSourcePorts,
  type PerSourceOptions,
  type Reflector,
  type ReflectorCounters,
  type ReflectorDependencies,
  type ReflectorOptions,
  type RefusalReason,
  type StampCounters,
  type StampNotAnsweredReason,
  type StampPortOptions,
  startReflector,
} from "./reflector.ts";

import { main } from "./main.ts";
// `deno run jsr:@llama/reflector` runs this module: start the program.
if (import.meta.main) Deno.exit(await main(Deno.args));
