// What the reflector's tests share: the engine variants every loop test runs on.
import { nativeEngineStatus } from "@llama/core";
import type { ReflectorOptions } from "./reflector.ts";

/** The native engine needs Linux and FFI: its tests are skipped where it cannot run, except in CI. */
export const SKIP_NATIVE: boolean = !nativeEngineStatus().available &&
  Deno.env.get("CI") !== "true";

/**
 * Deno's engine; the native one with its loop on a Worker of its own (the default); the native
 * one on the event loop; each with `ignore` (`SKIP_NATIVE` for the native ones).
 */
export const ENGINE_VARIANTS: readonly (
  & Required<Pick<ReflectorOptions, "engine" | "ownThread">>
  & { label: string; ignore: boolean }
)[] = [
  { label: "deno", engine: "deno", ownThread: false, ignore: false },
  { label: "native", engine: "native", ownThread: true, ignore: SKIP_NATIVE },
  { label: "native, event loop", engine: "native", ownThread: false, ignore: SKIP_NATIVE },
];
