// Running the `ip`, `nft` and `sysctl` commands the network tests build with, and removing the
// namespaces a dead test run left behind.

/**
 * Runs `command` (with `input` on its stdin, if given); throws an Error with the command line
 * and its stderr when it fails. Returns its stdout.
 */
export async function runCommand(
  command: string[],
  options: { input?: string; cwd?: string | URL } = {},
): Promise<string> {
  const { input } = options;
  const line = command.join(" ");
  let output: Deno.CommandOutput;
  try {
    const child = new Deno.Command(command[0], {
      args: command.slice(1),
      cwd: options.cwd,
      stdin: input === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (input !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(input));
      await writer.close();
    }
    output = await child.output();
  } catch (error) {
    throw new Error(`Cannot run "${line}": ${(error as Error).message}`, { cause: error });
  }
  const decoder = new TextDecoder();
  if (output.code !== 0) {
    const stderr = decoder.decode(output.stderr).trim();
    const shown = input === undefined ? line : `${line} <<${JSON.stringify(input)}`;
    throw new Error(`"${shown}" failed with exit code ${output.code}: ${stderr}`);
  }
  return decoder.decode(output.stdout);
}

function isAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** Deletes namespace `name`; one already gone is fine (another process may be cleaning up). */
export async function deleteNamespace(name: string): Promise<void> {
  try {
    await runCommand(["ip", "netns", "delete", name]);
  } catch (error) {
    if (!/does not exist|No such file/.test((error as Error).message)) throw error;
  }
}

/**
 * Deletes the namespaces whose name matches `pattern` (group 1: the whole name, group 2: the pid
 * of the test process that made it) and whose process has died.
 */
export async function deleteStaleNamespaces(pattern: RegExp): Promise<void> {
  const listing = await runCommand(["ip", "netns", "list"]);
  for (const line of listing.split("\n")) {
    const match = pattern.exec(line);
    if (match !== null && !isAlive(Number(match[2]))) await deleteNamespace(match[1]);
  }
}
