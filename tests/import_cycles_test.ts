/**
 * No module in the workspace imports itself, directly or through others: every program's and
 * member's module graph (as `deno info` resolves it, type-only and dynamic imports included) is
 * split into strongly connected components, and any component of more than one file, or a file
 * that imports itself, is a cycle.
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);

/** The files the graph is walked from: each member's `mod.ts` and `main.ts`, the demo, the bench. */
async function entryPoints(): Promise<URL[]> {
  const workspace = JSON.parse(await Deno.readTextFile(new URL("deno.json", root))) as {
    workspace: string[];
  };
  const candidates = [
    ...workspace.workspace.flatMap((member) => [`${member}/mod.ts`, `${member}/main.ts`]),
    "demo/main.ts",
    "bench/main.ts",
  ];
  const found: URL[] = [];
  for (const candidate of candidates) {
    const url = new URL(candidate, root);
    try {
      await Deno.stat(url);
      found.push(url);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return found;
}

interface DenoInfoModule {
  specifier: string;
  dependencies?: {
    code?: { specifier?: string };
    type?: { specifier?: string };
  }[];
}

/** The `file:` modules reachable from `entry` and the `file:` modules each imports. */
async function localGraph(entry: URL, graph: Map<string, Set<string>>): Promise<void> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry.href],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `Cannot read the module graph of ${entry.href}: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    modules: DenoInfoModule[];
  };
  for (const module of info.modules) {
    if (!module.specifier.startsWith("file:")) continue;
    const edges = graph.get(module.specifier) ?? new Set<string>();
    graph.set(module.specifier, edges);
    for (const dependency of module.dependencies ?? []) {
      for (const target of [dependency.code?.specifier, dependency.type?.specifier]) {
        if (target?.startsWith("file:")) edges.add(target);
      }
    }
  }
}

/**
 * The cycles in a directed graph: Tarjan's strongly connected components that hold more than one
 * node, or one node with an edge to itself. Each cycle's nodes are sorted, and so are the cycles.
 */
function findCycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const index = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;

  function connect(node: string): void {
    index.set(node, next);
    lowLink.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const target of graph.get(node) ?? []) {
      if (!index.has(target)) {
        connect(target);
        lowLink.set(node, Math.min(lowLink.get(node)!, lowLink.get(target)!));
      } else if (onStack.has(target)) {
        lowLink.set(node, Math.min(lowLink.get(node)!, index.get(target)!));
      }
    }
    if (lowLink.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || graph.get(node)?.has(node)) cycles.push(component.sort());
  }

  for (const node of graph.keys()) if (!index.has(node)) connect(node);
  return cycles.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
}

Deno.test("findCycles finds each cycle once, self-imports included, and nothing in a tree", () => {
  const graph = new Map<string, Set<string>>([
    ["a", new Set(["b"])],
    ["b", new Set(["c", "d"])],
    ["c", new Set(["a"])],
    ["d", new Set(["e"])],
    ["e", new Set()],
    ["f", new Set(["f", "e"])],
  ]);
  assert.deepEqual(findCycles(graph), [["a", "b", "c"], ["f"]]);
  graph.get("c")!.delete("a");
  graph.get("f")!.delete("f");
  assert.deepEqual(findCycles(graph), []);
});

Deno.test("no module in the workspace is part of an import cycle", async () => {
  const entries = await entryPoints();
  assert.ok(entries.length > 6, `too few entry points found: ${entries.join(", ")}`);
  const graph = new Map<string, Set<string>>();
  await Promise.all(entries.map((entry) => localGraph(entry, graph)));
  const cycles = findCycles(graph).map((cycle) =>
    cycle.map((file) => file.startsWith(root.href) ? file.slice(root.href.length) : file)
  );
  assert.deepEqual(
    cycles,
    [],
    `${cycles.length} import cycle(s) among ${graph.size} modules:\n${
      cycles.map((cycle) => `  ${cycle.join(" <-> ")}`).join("\n")
    }`,
  );
});
