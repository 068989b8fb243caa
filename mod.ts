/**
 * llama, the toolkit: one entry that names each program's library. Every member is a package
 * of its own, with its documented surface in its `mod.ts`; this module re-exports each one as
 * a namespace (`reflector.startReflector`, `collector.startCollector`, `scraper.startScraper`,
 * `ui.serveMatrixUi`, …), so that no two members' names can collide.
 *
 * | Package            | Folder        | What it is                                               |
 * | ------------------ | ------------- | -------------------------------------------------------- |
 * | `@llama/core`      | `core/`       | the probe wire format, flags, errors, UDP sockets        |
 * | `@llama/reflector` | `reflector/`  | answers probes (`startReflector`)                        |
 * | `@llama/collector` | `collector/`  | probes targets, summarizes, serves the API               |
 * | `@llama/scraper`   | `scraper/`    | pulls summaries from collectors into outputs             |
 * | `@llama/plugins`   | `plugins/`    | the output and tag-resolver plugin contract, built-ins   |
 * | `@llama/ui`        | `ui/`         | the loss and latency matrix page                         |
 *
 * The programs themselves are each member's `main.ts` (`deno task reflector`, `collector`,
 * `scraper`; `deno task compile` builds them into `dist/`).
 *
 * @example
 * ```ts ignore
 * import { reflector } from "./mod.ts";
 * await using running = await reflector.startReflector({ hostname: "127.0.0.1", port: 0 });
 * console.log(running.address.port);
 * ```
 *
 * @module
 */
export * as core from "@llama/core";
export * as reflector from "@llama/reflector";
export * as collector from "@llama/collector";
export * as scraper from "@llama/scraper";
export * as plugins from "@llama/plugins";
export * as ui from "@llama/ui";
