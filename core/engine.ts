import { openDenoSocket } from "./deno_socket.ts";
import { nativeEngineStatus, openNativeSocket } from "./native_socket.ts";
import { UsageError } from "./errors.ts";
import type { OpenSocket } from "./socket.ts";

/** Which UDP engine to use: `native` (libc), `deno` (`Deno.listenDatagram`), or `auto`. */
export type EngineChoice = "auto" | "deno" | "native";

/** The engines, for flag validation. */
export const ENGINE_CHOICES: readonly EngineChoice[] = ["auto", "deno", "native"];

/** An engine: how to open sockets, and why `auto` did not choose native, if it did not. */
export interface Engine {
  /** `native` or `deno`. */
  readonly name: "native" | "deno";
  /** Opens a socket with this engine. */
  readonly open: OpenSocket;
  /** Why the native engine is not used, when `auto` fell back to Deno's. */
  readonly fallbackReason: string | undefined;
}

/**
 * Picks the UDP engine: `auto` uses the native one on Linux when FFI is permitted and falls back
 * to `Deno.listenDatagram` otherwise (saying why); `native` throws `UsageError` when it cannot run.
 *
 * @example
 * ```ts
 * import { selectEngine } from "@llama/core";
 * const engine = selectEngine("deno");
 * console.assert(engine.name === "deno" && engine.fallbackReason === undefined);
 * ```
 */
export function selectEngine(choice: EngineChoice): Engine {
  if (choice === "deno") return { name: "deno", open: openDenoSocket, fallbackReason: undefined };
  const status = nativeEngineStatus();
  if (status.available) {
    return { name: "native", open: openNativeSocket, fallbackReason: undefined };
  }
  if (choice === "native") throw new UsageError(`--engine native cannot run: ${status.reason}`);
  return { name: "deno", open: openDenoSocket, fallbackReason: status.reason };
}
