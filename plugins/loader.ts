import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { PluginLoadError } from "@llama/core";
import {
  type OutputPlugin,
  type Plugin,
  PLUGIN_CONTRACT_VERSION,
  type TagResolverPlugin,
} from "./contract.ts";
import { BUILTIN_PLUGINS } from "./builtin.ts";

/** Where plugin specifiers are resolved from. */
export interface LoadPluginOptions {
  /** The config file's folder: relative paths are resolved against it. */
  baseDirectory: string;
  /** Whether `https:` specifiers may be imported (only when running from a checkout). */
  allowRemote?: boolean;
}

/**
 * Loads a plugin of `kind` named in config by `use`: a built-in name (`influxdb`, `stdout`,
 * `csv`, `static`, `dns`), a path relative to the config's folder (`./my_output.ts`), or a
 * `file:`, `npm:`, `jsr:` (or, from a checkout, `https:`) specifier, optionally followed by
 * `#exportName`. Throws `PluginLoadError` naming the specifier and what is wrong.
 *
 * @example
 * ```ts
 * import { loadPlugin } from "@llama/plugins";
 * const stdout = await loadPlugin("stdout", "output", { baseDirectory: "." });
 * console.assert(stdout.name === "stdout" && stdout.kind === "output");
 * ```
 */
export async function loadPlugin<K extends Plugin["kind"]>(
  use: string,
  kind: K,
  options: LoadPluginOptions,
): Promise<K extends "output" ? OutputPlugin : TagResolverPlugin> {
  const builtin = builtinPlugin(kind, use);
  if (builtin !== undefined) {
    return builtin as K extends "output" ? OutputPlugin : TagResolverPlugin;
  }
  const hash = use.lastIndexOf("#");
  const specifier = hash > 0 ? use.slice(0, hash) : use;
  const exportName = hash > 0 ? use.slice(hash + 1) : "default";
  const url = moduleUrl(use, specifier, exportName, kind, options);
  let module: Record<string, unknown>;
  try {
    module = await import(url);
  } catch (error) {
    throw new PluginLoadError(use, `importing ${url} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!(exportName in module)) {
    const exports = Object.keys(module);
    throw new PluginLoadError(
      use,
      `the module has no export "${exportName}"` +
        (exports.length ? `; it exports ${exports.join(", ")}` : ""),
    );
  }
  return checkPlugin(use, module[exportName], kind) as K extends "output" ? OutputPlugin
    : TagResolverPlugin;
}

function moduleUrl(
  use: string,
  specifier: string,
  exportName: string,
  kind: Plugin["kind"],
  options: LoadPluginOptions,
): string {
  if (/^(npm|jsr|file):/.test(specifier)) return specifier;
  if (/^https?:/.test(specifier)) {
    if (options.allowRemote) return specifier;
    throw new PluginLoadError(
      use,
      "a published llama cannot import http(s) modules: write a local file that re-exports it " +
        `(export { ${exportName} } from "${specifier}";) and name that file instead`,
    );
  }
  if (specifier.startsWith(".") || isAbsolute(specifier)) {
    return pathToFileURL(resolve(options.baseDirectory, specifier)).href;
  }
  const other = kind === "output" ? "tags" : "output";
  if (builtinPlugin(other, specifier) !== undefined) {
    throw new PluginLoadError(
      use,
      `"${specifier}" is a built-in ${other} plugin, but ${
        kind === "output" ? "an output" : "a tags"
      } plugin is needed here (${Object.keys(BUILTIN_PLUGINS[kind]).join(", ")})`,
    );
  }
  const builtins = Object.keys(BUILTIN_PLUGINS[kind]);
  throw new PluginLoadError(
    use,
    `not a built-in ${kind} plugin (${
      builtins.join(", ")
    }) nor a module: write a path (./plugin.ts) ` +
      "or a file:, npm: or jsr: specifier",
  );
}

/**
 * The built-in plugin of `kind` named `name`: own names only, so that `constructor`, `toString`
 * or `__proto__` (inherited from `Object.prototype`) is an unknown plugin like any other name.
 */
function builtinPlugin(kind: Plugin["kind"], name: string): Plugin | undefined {
  const plugins: Readonly<Record<string, Plugin>> = BUILTIN_PLUGINS[kind];
  return Object.hasOwn(plugins, name) ? plugins[name] : undefined;
}

/** Checks that a module's export is a plugin of the expected kind; returns it. */
export function checkPlugin(use: string, value: unknown, kind: Plugin["kind"]): Plugin {
  if (value === null || typeof value !== "object") {
    throw new PluginLoadError(
      use,
      `the export is ${value === null ? "null" : typeof value}, not a plugin definition object`,
    );
  }
  const plugin = value as Partial<Plugin>;
  const missing: string[] = [];
  if (typeof plugin.name !== "string" || plugin.name === "") {
    missing.push("name (a non-empty string)");
  }
  if (plugin.kind !== "output" && plugin.kind !== "tags") missing.push('kind ("output" or "tags")');
  if (typeof plugin.contract !== "number") {
    missing.push(`contract (the number ${PLUGIN_CONTRACT_VERSION})`);
  }
  if (typeof plugin.parseOptions !== "function") missing.push("parseOptions(raw, path)");
  if (typeof plugin.create !== "function") missing.push("create(options, context)");
  if (plugin.check !== undefined && typeof plugin.check !== "function") {
    missing.push("check(options, context) as a function (or no check at all)");
  }
  if (missing.length > 0) {
    throw new PluginLoadError(use, `the export is missing ${missing.join(", ")}`);
  }
  if (plugin.kind !== kind) {
    throw new PluginLoadError(
      use,
      `it is a "${plugin.kind}" plugin, but a "${kind}" plugin is needed here`,
    );
  }
  if (plugin.contract !== PLUGIN_CONTRACT_VERSION) {
    throw new PluginLoadError(
      use,
      `it was written for plugin contract ${plugin.contract}; this llama implements contract ${PLUGIN_CONTRACT_VERSION}`,
    );
  }
  return plugin as Plugin;
}
