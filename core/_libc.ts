/**
 * The libc functions the native socket calls, loaded once through `Deno.dlopen` (and whether
 * they can be), and the errno they leave behind, by name.
 *
 * @module
 */
import { SocketError } from "./errors.ts";

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  recvmmsg: {
    parameters: ["i32", "buffer", "u32", "i32", "pointer"],
    result: "i32",
    nonblocking: true,
  },
  // The same call, blocking the calling thread: for a receive loop on a Worker of its own.
  recvmmsgBlocking: {
    name: "recvmmsg",
    parameters: ["i32", "buffer", "u32", "i32", "pointer"],
    result: "i32",
  },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** The libc functions, as `Deno.dlopen` binds them. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

// One handle for the process: dlopen is not undone, and every socket and thread shares libc.
let library: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** The libc functions; the first call loads libc.so.6 and throws if it cannot. */
export function libc(): Libc {
  library ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return library.symbols;
}

/** Whether the native engine can run here, and if not, why. */
export type NativeEngineStatus = { available: true } | { available: false; reason: string };

/**
 * Says whether the native engine can be used: Linux, FFI permitted, libc loadable.
 *
 * @example
 * ```ts
 * import { nativeEngineStatus } from "@llama/core";
 * const status = nativeEngineStatus();
 * console.assert(status.available || status.reason.length > 0);
 * ```
 */
export function nativeEngineStatus(): NativeEngineStatus {
  if (Deno.build.os !== "linux") {
    return { available: false, reason: `it needs Linux, and this is ${Deno.build.os}` };
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return { available: false, reason: "FFI is not permitted (run with --allow-ffi or -A)" };
  }
  try {
    libc();
  } catch (error) {
    return { available: false, reason: `libc.so.6 cannot be loaded: ${(error as Error).message}` };
  }
  return { available: true };
}

/** The calling thread's errno, as the last failed libc call left it. */
export function readErrno(): number {
  return new Deno.UnsafePointerView(libc().__errno_location()!).getInt32();
}

/** errno values this module names (Linux numbering, the same on x86_64 and aarch64). */
export const Errno = {
  EPERM: 1,
  EINTR: 4,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  EPIPE: 32,
  ENONET: 64,
  EPROTO: 71,
  ENOTSOCK: 88,
  EDESTADDRREQ: 89,
  EMSGSIZE: 90,
  EPROTOTYPE: 91,
  ENOPROTOOPT: 92,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ENETUNREACH: 101,
  ECONNRESET: 104,
  ENOBUFS: 105,
  ENOTCONN: 107,
  ESHUTDOWN: 108,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTDOWN: 112,
  EHOSTUNREACH: 113,
} as const;

const ERRNO_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(Errno).map(([name, value]) => [value, name]),
);

/** The name of `errno` (`EAGAIN` for 11), or undefined for one this module does not name. */
export function errnoName(errno: number): string | undefined {
  return ERRNO_NAMES.get(errno);
}

/** `errno` as messages show it: `EAGAIN (11)`, or `errno (n)` for one without a name here. */
export function describeErrno(errno: number): string {
  return `${errnoName(errno) ?? "errno"} (${errno})`;
}

/**
 * A `SocketError` for a libc call that failed with `errno`: the message is `what` and the errno
 * described (`sendmmsg failed: ENOBUFS (105)`), and the error carries its name and number.
 */
export function errnoError(what: string, operation: string, errno: number): SocketError {
  return new SocketError(`${what}: ${describeErrno(errno)}`, {
    operation,
    code: errnoName(errno),
    errno,
  });
}
