/**
 * The STAMP settings of the collector's config (a llama extension): `protocol: stamp` on a target
 * or a test, the reflector's mode and the key of authenticated mode.
 *
 * @module
 */
import type { ConfigNode } from "@llama/core";

/** The registered STAMP port (RFC 8762 §4): a STAMP target without a port is probed there. */
export const STAMP_PORT = 862;

/** The config keys of STAMP, allowed on a target and on a test. */
export const STAMP_KEYS = ["protocol", "stamp_mode", "stamp_key_file"] as const;

/** How a reflector answers STAMP: stateful ones keep their own sequence per session. */
export type StampMode = "stateless" | "stateful";

/** What a target or a test says of STAMP; a field left out is taken from the test, then defaults. */
export interface StampOptions {
  /** `llama` (the LLAMA probe) or `stamp` (RFC 8762 test packets). */
  protocol?: "llama" | "stamp";
  /** What the reflector is told to be: `stateful` splits loss into forward and backward. */
  mode?: StampMode;
  /** Authenticated mode's key file, as an absolute path (written relative to the config file). */
  keyFile?: string;
  /** Where the key file is named in the config, for errors found when it is read. */
  location?: { path: string; line?: number; column?: number };
}

/** The STAMP settings of one target in one test, once merged. */
export interface StampSettings {
  /** The reflector's mode. */
  mode: StampMode;
  /** Authenticated mode's key file (absolute; its first key signs), or undefined. */
  keyFile: string | undefined;
  /** Where the key file was named in the config, for its errors. */
  keyLocation: { path: string; line?: number; column?: number } | undefined;
}

/**
 * Reads the STAMP keys of a target's or a test's `fields`; undefined when it has none. A relative
 * key file is resolved against `configFile`'s folder.
 */
export function readStampOptions(
  fields: Map<string, ConfigNode>,
  configFile: string | undefined,
): StampOptions | undefined {
  if (!STAMP_KEYS.some((key) => fields.has(key))) return undefined;
  const options: StampOptions = {};
  const protocol = fields.get("protocol");
  if (protocol !== undefined) {
    const name = protocol.text('"llama" or "stamp"');
    if (name !== "llama" && name !== "stamp") {
      throw protocol.error(`expected "llama" or "stamp", got ${protocol.describe()}`);
    }
    options.protocol = name;
  }
  const mode = fields.get("stamp_mode");
  if (mode !== undefined) {
    const name = mode.text('"stateless" or "stateful"');
    if (name !== "stateless" && name !== "stateful") {
      throw mode.error(`expected "stateless" or "stateful", got ${mode.describe()}`);
    }
    options.mode = name;
  }
  const keyFile = fields.get("stamp_key_file");
  if (keyFile !== undefined) {
    const path = keyFile.text("the path of a key file");
    if (path === "") throw keyFile.error("expected the path of a key file, got an empty string");
    options.keyFile = absolutePath(path, configFile);
    options.location = keyFile.location();
  }
  return options;
}

/**
 * The STAMP settings of `target` probed by `test` (the target's own keys win over the test's), or
 * undefined when it is probed with LLAMA probes.
 */
export function stampSettings(
  test: StampOptions | undefined,
  target: StampOptions | undefined,
): StampSettings | undefined {
  const protocol = target?.protocol ?? test?.protocol ?? "llama";
  if (protocol !== "stamp") return undefined;
  return {
    mode: target?.mode ?? test?.mode ?? "stateless",
    keyFile: target?.keyFile ?? test?.keyFile,
    keyLocation: target?.keyFile !== undefined ? target.location : test?.location,
  };
}

/**
 * The port `target` is probed on: a STAMP target whose port was left out is probed on 862 even
 * when only its test says `protocol: stamp`.
 */
export function targetPort(
  target: { port: number; portDefaulted?: boolean },
  stamp: StampSettings | undefined,
): number {
  return stamp !== undefined && target.portDefaulted === true ? STAMP_PORT : target.port;
}

/** A key naming a target's STAMP settings (`llama` for LLAMA probes): targets alike share sockets. */
export function stampGroupKey(stamp: StampSettings | undefined): string {
  return stamp === undefined ? "llama" : `stamp|${stamp.mode}|${stamp.keyFile ?? ""}`;
}

/** Whether a target's or a test's options make it a STAMP target (so its default port is 862). */
export function isStamp(options: StampOptions | undefined): boolean {
  return options?.protocol === "stamp";
}

function absolutePath(path: string, configFile: string | undefined): string {
  if (path.startsWith("/")) return path;
  const base = configFile === undefined
    ? Deno.cwd()
    : configFile.includes("/")
    ? configFile.slice(0, configFile.lastIndexOf("/"))
    : ".";
  const joined = `${base}/${path}`;
  return joined.startsWith("/") ? joined : `${Deno.cwd()}/${joined}`;
}
