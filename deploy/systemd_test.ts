// The systemd units of deploy/systemd: systemd's own check where it is installed, and always the
// keys that make them safe (a dedicated user, no capabilities, a read-only system), flags that
// the programs really take, and a reload only where the program handles SIGHUP.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { assertRequirement, requirement } from "../tests/_requirements.ts";
import { parseUnitFile, type UnitFile, unitValue } from "./_unit_file.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const UNITS = `${ROOT}deploy/systemd`;
const PROGRAMS = ["reflector", "collector", "scraper"] as const;
type Program = typeof PROGRAMS[number];

function unitPath(program: Program): string {
  return `${UNITS}/llama-${program}.service`;
}

function readUnit(program: Program): UnitFile {
  return parseUnitFile(Deno.readTextFileSync(unitPath(program)), `llama-${program}.service`);
}

function execStart(program: Program): string[] {
  const line = unitValue(readUnit(program), "Service", "ExecStart");
  assert.ok(line, `llama-${program}.service has no ExecStart`);
  return line.split(/\s+/);
}

Deno.test("every unit runs as the llama user that the sysusers file creates, hardened", () => {
  const sysusers = Deno.readTextFileSync(`${UNITS}/llama.sysusers`);
  assert.match(sysusers, /^u llama /m);
  for (const program of PROGRAMS) {
    const unit = readUnit(program);
    const where = `llama-${program}.service`;
    const expected: Record<string, string> = {
      User: "llama",
      Group: "llama",
      NoNewPrivileges: "yes",
      ProtectSystem: "strict",
      ProtectHome: "yes",
      PrivateTmp: "yes",
      Restart: "on-failure",
      RestartPreventExitStatus: "2",
      // Empty: no capability at all (port 8100 and 5000 need none).
      CapabilityBoundingSet: "",
      AmbientCapabilities: "",
    };
    for (const [key, value] of Object.entries(expected)) {
      assert.equal(unitValue(unit, "Service", key), value, `${where}: [Service] ${key}`);
    }
    assert.equal(unitValue(unit, "Install", "WantedBy"), "multi-user.target", where);
    assert.ok(unitValue(unit, "Unit", "Description"), `${where}: [Unit] Description`);
    assert.equal(execStart(program)[0], `/usr/local/bin/llama-${program}`, where);
  }
});

Deno.test("the reflector's unit offers CAP_NET_BIND_SERVICE only in a comment, for STAMP < 1024", () => {
  const text = Deno.readTextFileSync(unitPath("reflector"));
  assert.match(text, /^#CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m);
  assert.match(text, /^#AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
  for (const program of PROGRAMS) {
    const uncommented = Deno.readTextFileSync(unitPath(program)).split("\n")
      .filter((line) => !line.trimStart().startsWith("#"));
    assert.ok(!uncommented.some((line) => line.includes("CAP_")), `llama-${program}.service`);
  }
});

Deno.test("a unit reloads with SIGHUP exactly when its program handles SIGHUP", () => {
  for (const program of PROGRAMS) {
    const main = Deno.readTextFileSync(`${ROOT}${program}/main.ts`);
    const handles = /\bSIGHUP\s*:/.test(main);
    const reload = unitValue(readUnit(program), "Service", "ExecReload");
    // Without a handler SIGHUP's default action ends the process: a "reload" would stop it.
    assert.equal(reload, handles ? "/bin/kill -HUP $MAINPID" : undefined, `llama-${program}`);
  }
  assert.ok(unitValue(readUnit("collector"), "Service", "ExecReload"), "the collector reloads");
});

Deno.test("the scraper's spool is its StateDirectory, which it reads from $STATE_DIRECTORY", () => {
  const unit = readUnit("scraper");
  assert.equal(unitValue(unit, "Service", "StateDirectory"), "llama-scraper");
  assert.ok(!execStart("scraper").includes("--data-dir"), "--data-dir would override it");
  const main = Deno.readTextFileSync(`${ROOT}scraper/main.ts`);
  assert.match(main, /env\("STATE_DIRECTORY"\)/);
});

Deno.test("every flag a unit's ExecStart gives is one its program's --help lists", async () => {
  for (const program of PROGRAMS) {
    const help = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}${program}/main.ts`, "--help"],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const usage = new TextDecoder().decode(help.stdout) + new TextDecoder().decode(help.stderr);
    const known = new Set(usage.match(/--[a-z][a-z0-9.-]*/g) ?? []);
    assert.ok(known.size > 3, `${program} --help listed no flags: ${usage}`);
    const flags = execStart(program).filter((word) => word.startsWith("--"));
    assert.ok(flags.length > 0, program);
    for (const flag of flags) assert.ok(known.has(flag), `llama-${program}.service: ${flag}`);
  }
});

Deno.test("the units serve metrics on the ports the Kubernetes manifests and operations.md name", () => {
  const operations = Deno.readTextFileSync(`${ROOT}docs/operations.md`);
  for (const program of ["reflector", "scraper"] as const) {
    const words = execStart(program);
    const port = /:(\d+)$/.exec(words[words.indexOf("--metrics") + 1] ?? "")?.[1];
    assert.ok(port, `llama-${program}.service gives no --metrics HOST:PORT`);
    const manifest = Deno.readTextFileSync(`${ROOT}deploy/kubernetes/${program}.yaml`);
    assert.match(manifest, new RegExp(`--metrics"?,? "?[^\\s"]*:${port}\\b`), `${program}.yaml`);
    assert.match(operations, new RegExp(`127\\.0\\.0\\.1:${port}`), `operations.md, ${program}`);
  }
});

Deno.test("the unit reader names the file and line of what it cannot read", () => {
  assert.throws(() => parseUnitFile("[Service]\nUser llama\n", "x.service"), /x\.service:2: /);
  assert.throws(() => parseUnitFile("User=llama\n", "x.service"), /x\.service:1: User before/);
  const unit = parseUnitFile("[Service]\nA=1 \\\n  2\nA=\n# B=3\n", "x.service");
  assert.deepEqual(unit.get("Service")?.get("A"), ["1 2", ""]);
  assert.equal(unitValue(unit, "Service", "B"), undefined);
});

const analyze = requirement({ commands: ["systemd-analyze"] });

Deno.test({
  name: "systemd-analyze verify finds nothing to say about the units",
  ignore: analyze.ignore,
  async fn() {
    assertRequirement(analyze);
    // verify checks that ExecStart's program exists: point the units at stand-ins.
    const directory = await Deno.makeTempDir({ prefix: "llama-units-" });
    try {
      const files = [];
      for (const program of PROGRAMS) {
        const stub = `${directory}/llama-${program}`;
        await Deno.writeTextFile(stub, "#!/bin/sh\n", { mode: 0o755 });
        const text = (await Deno.readTextFile(unitPath(program)))
          .replaceAll("/usr/local/bin/", `${directory}/`);
        files.push(`${directory}/llama-${program}.service`);
        await Deno.writeTextFile(files.at(-1)!, text);
      }
      const result = await new Deno.Command("systemd-analyze", {
        args: ["verify", ...files],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const said = new TextDecoder().decode(result.stdout) +
        new TextDecoder().decode(result.stderr);
      // Unknown keys and bad values are only warnings (exit 0): any output is a failure.
      assert.equal(said, "");
      assert.equal(result.code, 0);
    } finally {
      await Deno.remove(directory, { recursive: true });
    }
  },
});
