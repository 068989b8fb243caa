import { getLogger } from "@logtape/logtape";

/** Finds, for each destination, the source address the kernel would use to reach it. */
export type SourceAddressLookup = (destinations: readonly string[]) => Promise<Map<string, string>>;

/**
 * Asks the kernel's routing table (`ip -json -batch - route get DST`, one process for all
 * destinations; no packet is sent). A socket bound to a wildcard address sends from the
 * address this returns, which is what a path's `src_ip` should say. Resolves to an empty map
 * where `ip` is missing or may not be run, so callers fall back to the bind address.
 *
 * @example
 * ```ts ignore
 * import { routeSourceAddresses } from "@llama/collector";
 * const sources = await routeSourceAddresses(["127.0.0.2"]);
 * console.assert(sources.get("127.0.0.2") === "127.0.0.1");
 * ```
 */
export const routeSourceAddresses: SourceAddressLookup = async (
  destinations: readonly string[],
): Promise<Map<string, string>> => {
  const found = new Map<string, string>();
  if (destinations.length === 0 || Deno.build.os !== "linux") return found;
  let output: Deno.CommandOutput;
  try {
    const child = new Deno.Command("ip", {
      args: ["-json", "-force", "-batch", "-"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Read while writing: ip answers each line as it reads it, and would block on a full pipe.
    const reading = child.output();
    const writer = child.stdin.getWriter();
    await writer.write(
      new TextEncoder().encode(
        destinations.map((destination) => `route get ${destination}\n`).join(""),
      ),
    );
    await writer.close();
    output = await reading;
  } catch (error) {
    getLogger(["llama", "collector"]).warn(
      "Cannot ask the routing table for source addresses ({error}); paths report the bind address",
      { error },
    );
    return found;
  }
  for (const line of new TextDecoder().decode(output.stdout).split("\n")) {
    if (line.trim() === "") continue;
    try {
      for (const route of JSON.parse(line) as { dst?: string; prefsrc?: string }[]) {
        if (route.dst !== undefined && route.prefsrc !== undefined) {
          found.set(route.dst, route.prefsrc);
        }
      }
    } catch {
      // A line ip could not format as JSON says nothing we can use.
    }
  }
  return found;
};
