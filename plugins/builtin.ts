// The built-in plugins, imported statically so that `deno compile` embeds them.
import type { OutputPlugin, TagResolverPlugin } from "./contract.ts";
import { csvOutput } from "./outputs/csv.ts";
import { influxdbOutput } from "./outputs/influxdb.ts";
import { remoteWriteOutput } from "./outputs/remote_write.ts";
import { stdoutOutput } from "./outputs/stdout.ts";
import { dnsTags } from "./tags/dns.ts";
import { staticTags } from "./tags/static.ts";

/** Built-in plugins by kind and name. */
export const BUILTIN_PLUGINS: {
  readonly output: Readonly<Record<string, OutputPlugin>>;
  readonly tags: Readonly<Record<string, TagResolverPlugin>>;
} = {
  output: {
    influxdb: influxdbOutput as OutputPlugin,
    stdout: stdoutOutput as OutputPlugin,
    csv: csvOutput as OutputPlugin,
    remote_write: remoteWriteOutput as OutputPlugin,
  },
  tags: {
    static: staticTags as TagResolverPlugin,
    dns: dnsTags as TagResolverPlugin,
  },
};
