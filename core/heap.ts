/**
 * One full garbage collection on request, for a program that has just let go of a large
 * transient structure (a parsed config of 10,000 targets leaves ~4 KB of garbage a target in
 * V8's old generation).
 *
 * @module
 */
import v8 from "node:v8";
import vm from "node:vm";

/**
 * Makes a function that runs a full garbage collection, or undefined when V8 does not let this
 * process expose one. Without it, V8 keeps the heap it grew while parsing for as long as the
 * program runs: old-generation garbage is collected only when the old generation fills up, and a
 * program whose steady allocations all die young never fills it. Measured with a collector of
 * 10,000 targets: RSS 220 MB without, 149 MB with one collection after start, which took 30 ms
 * (it stops the program: call it where a pause does no harm).
 *
 * @example
 * ```ts
 * import { fullGarbageCollector } from "@llama/core";
 * const collect = fullGarbageCollector();
 * collect?.();
 * ```
 */
export function fullGarbageCollector(): (() => void) | undefined {
  try {
    // `gc` is exposed only in contexts created after the flag is set.
    v8.setFlagsFromString("--expose-gc");
    const collect: unknown = vm.runInNewContext("gc");
    return typeof collect === "function" ? () => collect() : undefined;
  } catch {
    return undefined;
  }
}

/** glibc's `mallopt` parameter number of the mmap threshold (malloc.h). */
const M_MMAP_THRESHOLD = -3;

/**
 * Sets glibc malloc's mmap threshold to `bytes`: a block of that size or more that the arena
 * cannot serve from memory it already holds gets a mapping of its own, returned to the kernel
 * when it is freed. Returns whether it took effect (it needs Linux, glibc and FFI permission).
 * By default glibc raises this threshold to the size of the largest mapped block freed so far (up
 * to 32 MiB) and serves blocks below it from its arenas, which keep freed memory resident. V8's
 * garbage collector allocates and frees 32 KiB blocks on its worker threads at a rate that grows
 * with the number of objects in the heap, and typed arrays live in malloc'd memory: with a
 * collector of 10,000 targets, the arenas held ~7 MiB free but resident, and a 32 KiB threshold
 * cut its RSS by 5–7 MiB (bench/RESULTS.md, notes to the collector run of 2026-11-26 08:31).
 * Call it first thing: glibc documents `mallopt` as unsafe while other threads allocate, and it
 * does not give back what the arenas already hold.
 *
 * @example
 * ```ts
 * import { capMallocMmapThreshold } from "@llama/core";
 * const capped = capMallocMmapThreshold(32 * 1024);
 * console.assert(typeof capped === "boolean");
 * ```
 */
export function capMallocMmapThreshold(bytes: number): boolean {
  if (Deno.build.os !== "linux") return false;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return false;
  let library;
  try {
    library = Deno.dlopen("libc.so.6", {
      mallopt: { parameters: ["i32", "i32"], result: "i32" },
    });
  } catch {
    return false; // not glibc
  }
  try {
    return library.symbols.mallopt(M_MMAP_THRESHOLD, bytes) === 1;
  } finally {
    library.close();
  }
}
