import { UsageError } from "./errors.ts";
import type { SocketAddress } from "./socket.ts";

/**
 * Formats an address as `host:port`, bracketing IPv6 hosts.
 *
 * @example
 * ```ts
 * import { formatAddress } from "@llama/core";
 * console.assert(formatAddress({ hostname: "::1", port: 8100 }) === "[::1]:8100");
 * ```
 */
export function formatAddress(address: SocketAddress): string {
  return address.hostname.includes(":")
    ? `[${address.hostname}]:${address.port}`
    : `${address.hostname}:${address.port}`;
}

/**
 * Parses `host:port`, `[v6]:port` or `:port` (every interface, `defaultHost`). `what` names the
 * flag or setting in the error.
 *
 * @example
 * ```ts
 * import { parseHostPort } from "@llama/core";
 * console.assert(parseHostPort("[::1]:9100", "--metrics").hostname === "::1");
 * console.assert(parseHostPort(":9100", "--metrics").hostname === "0.0.0.0");
 * ```
 */
export function parseHostPort(text: string, what: string, defaultHost = "0.0.0.0"): SocketAddress {
  const match = /^(?:\[([0-9a-fA-F:.%a-zA-Z]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port > 65535) {
    throw new UsageError(
      `${what} takes host:port (like 127.0.0.1:9100 or [::1]:9100), got "${text}"`,
    );
  }
  const hostname = match[1] ?? match[2];
  return { hostname: hostname === "" ? defaultHost : hostname, port };
}
