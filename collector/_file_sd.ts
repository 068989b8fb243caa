/**
 * Prometheus `file_sd` files (JSON, or YAML): read whole on every change, watched through their
 * folder (an atomic rename replaces the file, and a watch on the old one would see nothing more).
 *
 * @module
 */
import { basename, dirname } from "node:path";
import jsYaml from "js-yaml";
import type { TagInterner } from "./_config_fields.ts";
import type { DiscoverySource } from "./_discovery_config.ts";
import { DiscoveryError, inSource, readTargetGroups, type SourceReader } from "./_sd_groups.ts";

/** Events closer together than this are one change: an editor's save is several. */
const SETTLE_MS = 50;

/** A reader of the `file_sd` file `source.source`. */
export function fileSdReader(source: DiscoverySource, interner: TagInterner): SourceReader {
  const path = source.source;
  let lastText: string | undefined;
  return {
    async read() {
      let text: string;
      try {
        text = await Deno.readTextFile(path);
      } catch (error) {
        throw new DiscoveryError(`cannot read ${path}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      if (text === lastText) return { targets: undefined };
      let value: unknown;
      try {
        value = path.endsWith(".json") ? JSON.parse(text) : jsYaml.load(text);
      } catch (error) {
        throw new DiscoveryError(
          `${path} is not valid ${path.endsWith(".json") ? "JSON" : "YAML"}: ${
            (error as Error).message.split("\n")[0]
          }`,
          { cause: error },
        );
      }
      try {
        const targets = readTargetGroups(value ?? [], source, interner);
        lastText = text;
        return { targets };
      } catch (error) {
        throw inSource(path, error);
      }
    },
    reset() {
      lastText = undefined;
    },
    watch(changed) {
      let watcher: Deno.FsWatcher;
      try {
        watcher = Deno.watchFs(dirname(path), { recursive: false });
      } catch {
        // No folder to watch (yet): the periodic re-read finds the file when it comes.
        return () => {};
      }
      const name = basename(path);
      let timer: ReturnType<typeof setTimeout> | undefined;
      (async () => {
        try {
          for await (const event of watcher) {
            if (!event.paths.some((changedPath) => basename(changedPath) === name)) continue;
            clearTimeout(timer);
            timer = setTimeout(changed, SETTLE_MS);
          }
        } catch {
          // The watch ended (its folder went away): the periodic re-read goes on.
        }
      })();
      return () => {
        clearTimeout(timer);
        try {
          watcher.close();
        } catch {
          // Closed already.
        }
      };
    },
  };
}
