// Skipping (locally) or failing (in CI) tests that need something the machine may lack.

/** What `requirement` found: pass `ignore` to `Deno.test`, and the whole value to `assertRequirement`. */
export interface Requirement {
  /** True when something is missing and we are not in CI: the test should be skipped. */
  ignore: boolean;
  /** What is missing and how to get it, or "" when nothing is. */
  reason: string;
}

/** Where `requirement` reads CI and writes its skip notice; tests of it pass their own. */
export interface RequirementContext {
  /** The value of the CI environment variable. */
  ci?: string;
  /** Prints the skip notice (once per distinct notice). */
  warn?: (message: string) => void;
}

// Debian packages that provide the commands our tests use, for the hint.
const PACKAGES: Record<string, string> = {
  ip: "iproute2",
  nft: "nftables",
  influxd: "influxdb",
  "victoria-metrics": "victoria-metrics",
  promtool: "prometheus",
  named: "bind9",
  prometheus: "prometheus",
  openssl: "openssl",
  "systemd-analyze": "systemd",
};

// Probing PATH is cheap but done per test file and per test; the notice must print only once.
const commandFound = new Map<string, boolean>();
const announced = new Set<string>();

function isOnPath(command: string): boolean {
  let found = commandFound.get(command);
  if (found !== undefined) return found;
  const directories = command.includes("/") ? [""] : (Deno.env.get("PATH") ?? "").split(":");
  found = directories.some((directory) => {
    try {
      const info = Deno.statSync(directory === "" ? command : `${directory}/${command}`);
      return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
    } catch {
      return false;
    }
  });
  commandFound.set(command, found);
  return found;
}

/**
 * Checks, synchronously, that we run as root and that each command is on PATH.
 *
 * @example
 * ```ts
 * const needs = requirement({ root: true, commands: ["ip", "nft"] });
 * Deno.test({ name: "…", ignore: needs.ignore, fn() { assertRequirement(needs); } });
 * ```
 */
export function requirement(
  what: { root?: boolean; commands?: string[] },
  context: RequirementContext = {},
): Requirement {
  const ci = "ci" in context ? context.ci : Deno.env.get("CI");
  const warn = context.warn ?? ((message: string) => console.error(message));
  const missingRoot = what.root === true && Deno.uid() !== 0;
  const missingCommands = (what.commands ?? []).filter((command) => !isOnPath(command));
  if (!missingRoot && missingCommands.length === 0) return { ignore: false, reason: "" };
  const missing = [...(missingRoot ? ["root"] : []), ...missingCommands].join(", ");
  const hints = [
    ...(missingCommands.length === 0 ? [] : [
      `install Debian's ${
        missingCommands.map((command) => PACKAGES[command] ?? command).join(", ")
      }`,
    ]),
    ...(missingRoot ? ["run as root"] : []),
  ];
  const reason = `${missing}: ${hints.join(" and ")}`;
  if (ci === "true") return { ignore: false, reason };
  if (!announced.has(reason)) {
    announced.add(reason);
    warn(`skipping tests that need ${reason}`);
  }
  return { ignore: true, reason };
}

/** Throws when the requirement is not met; a test calls it first so CI fails instead of skipping. */
export function assertRequirement(needs: Requirement): void {
  if (needs.reason !== "") throw new Error(`This test needs ${needs.reason}`);
}
