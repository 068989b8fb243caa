// The collector program locked down (issue 19): API tokens from its YAML or --api-token-file on
// every route but /status, HTTPS with an OpenSSL-made certificate, tokens re-read on SIGHUP.
import { ok as assert, strictEqual as assertEquals } from "node:assert/strict";
import { startProgram } from "./_process.ts";
import { collectorYaml } from "./_collector.ts";
import { assertRequirement } from "./_requirements.ts";
import { makeCertificates, NEEDS_OPENSSL } from "./_tls.ts";
import { assertEveryRouteLocked, listedRoutes, request } from "./_api_security.ts";

const YAML_TOKEN = "yaml-token-0123456789abcdef";
const FLAG_TOKEN = "flag-token-0123456789abcdef";
const NEW_TOKEN = "reloaded-token-0123456789ab";
const READY = /Serving the API on https:\/\/127\.0\.0\.1:(\d+)/;

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let attempt = 0; attempt < 1000 && !condition(); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert(condition(), `timed out waiting for ${what}`);
}

Deno.test({
  name: "a collector with a token file and HTTPS answers 401 on every route but /status",
  ignore: NEEDS_OPENSSL.ignore,
  async fn() {
    assertRequirement(NEEDS_OPENSSL);
    const directory = await Deno.makeTempDir({ prefix: "llama-api-security-" });
    try {
      const files = await makeCertificates(directory);
      await Deno.writeTextFile(`${directory}/tokens.txt`, `# the scrapers\n${YAML_TOKEN}\n`);
      const yaml = collectorYaml({ targets: [["127.3.0.1", 9, {}]], sockets: 1, cps: 2 })
        .replace(
          /^api: .*$/m,
          `api: {bind: "127.0.0.1:0", token_file: tokens.txt, tls_cert: server.pem, ` +
            `tls_key: server.key}`,
        );
      await Deno.writeTextFile(`${directory}/collector.yaml`, yaml);
      await using collector = await startProgram(
        "collector/main.ts",
        ["--config", `${directory}/collector.yaml`, "--engine", "deno"],
        { readyPattern: READY, denoArgs: ["--frozen=false"] },
      );
      const base = `https://127.0.0.1:${collector.ready[1]}`;
      using client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(files.caFile)] });
      const routes = await listedRoutes(base, { client, token: YAML_TOKEN });
      for (const route of ["/influxdata", "/api/v1/summaries", "/metrics", "/api/v1/traces", "/"]) {
        assert(routes.includes(route), `${route} not in ${routes.join(", ")}`);
      }
      await assertEveryRouteLocked(base, routes, {
        client,
        token: YAML_TOKEN,
        wrongToken: FLAG_TOKEN,
      });
      // The one action: a POST that starts a trace needs the token too.
      const body = JSON.stringify({ target: "127.3.0.1" });
      const post = (token?: string) =>
        request(`${base}/api/v1/traces`, { client, token, method: "POST", body });
      assertEquals((await post()).status, 401);
      assertEquals((await post(FLAG_TOKEN)).status, 401);
      const allowed = await post(YAML_TOKEN);
      assert([202, 503].includes(allowed.status), `${allowed.status} ${allowed.text}`);
      const metrics = await request(`${base}/metrics`, { client, token: YAML_TOKEN });
      const unauthorized = /llama_http_unauthorized_total\{server="api"\} (\d+)/.exec(metrics.text);
      assertEquals(Number(unauthorized?.[1]), 2 * (routes.length - 1) + 2);
      assert(/answered 401 to 127\.0\.0\.1: no API token for GET/.test(collector.stderr()));
    } finally {
      await Deno.remove(directory, { recursive: true });
    }
  },
});

Deno.test({
  name: "--api-token-file wins over the config's, and SIGHUP re-reads it",
  ignore: NEEDS_OPENSSL.ignore,
  async fn() {
    assertRequirement(NEEDS_OPENSSL);
    const directory = await Deno.makeTempDir({ prefix: "llama-api-security-" });
    try {
      const files = await makeCertificates(directory);
      await Deno.writeTextFile(`${directory}/yaml-tokens.txt`, `${YAML_TOKEN}\n`);
      await Deno.writeTextFile(`${directory}/flag-tokens.txt`, `${FLAG_TOKEN}\n`);
      const yaml = collectorYaml({ targets: [["127.3.0.1", 9, {}]], sockets: 1, cps: 2 })
        .replace(/^api: .*$/m, `api: {bind: "127.0.0.1:0", token_file: yaml-tokens.txt}`);
      await Deno.writeTextFile(`${directory}/collector.yaml`, yaml);
      await using collector = await startProgram("collector/main.ts", [
        "--config",
        `${directory}/collector.yaml`,
        "--engine",
        "deno",
        "--api-token-file",
        `${directory}/flag-tokens.txt`,
        "--tls-cert",
        files.certFile,
        "--tls-key",
        files.keyFile,
      ], { readyPattern: READY, denoArgs: ["--frozen=false"] });
      const url = `https://127.0.0.1:${collector.ready[1]}/influxdata`;
      using client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(files.caFile)] });
      assertEquals((await request(url, { client, token: FLAG_TOKEN })).status, 200);
      assertEquals((await request(url, { client, token: YAML_TOKEN })).status, 401);
      await Deno.writeTextFile(`${directory}/flag-tokens.txt`, `${NEW_TOKEN}\n`);
      collector.child.kill("SIGHUP");
      await until(() => collector.stderr().includes("Reloaded"), "the reload");
      assertEquals((await request(url, { client, token: NEW_TOKEN })).status, 200);
      assertEquals((await request(url, { client, token: FLAG_TOKEN })).status, 401);
      // A token file broken by an edit: the reload fails and the running tokens stay.
      await Deno.writeTextFile(`${directory}/flag-tokens.txt`, "short\n");
      collector.child.kill("SIGHUP");
      await until(() => collector.stderr().includes("Reload failed"), "the failed reload");
      assert(collector.stderr().includes("flag-tokens.txt:1:1: the token is 5 characters"));
      assertEquals((await request(url, { client, token: NEW_TOKEN })).status, 200);
    } finally {
      await Deno.remove(directory, { recursive: true });
    }
  },
});

Deno.test("the collector refuses to start with a bad token file or half a TLS pair", async () => {
  const directory = await Deno.makeTempDir({ prefix: "llama-api-security-" });
  try {
    await Deno.writeTextFile(`${directory}/tokens.txt`, `${YAML_TOKEN}\nnot a token\n`);
    const run = async (args: string[]) => {
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--frozen=false", "collector/main.ts", "--check", ...args],
        cwd: new URL("../", import.meta.url),
        stdout: "null",
        stderr: "piped",
      }).output();
      return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
    };
    const tokens = await run(["--api-token-file", `${directory}/tokens.txt`]);
    assertEquals(tokens.code, 2);
    assert(tokens.stderr.includes(`${directory}/tokens.txt:2:1: expected one token a line`));
    const half = await run(["--tls-cert", `${directory}/tokens.txt`]);
    assertEquals(half.code, 2);
    assert(half.stderr.includes("--tls-cert and --tls-key go together"), half.stderr);
    const notPem = await run([
      "--tls-cert",
      `${directory}/tokens.txt`,
      "--tls-key",
      `${directory}/tokens.txt`,
    ]);
    assertEquals(notPem.code, 2);
    assert(notPem.stderr.includes("expected a PEM certificate, found none"), notPem.stderr);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("--help of the collector and the scraper shows the security flags", async () => {
  const help = async (module: string) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--frozen=false", module, "--help"],
      cwd: new URL("../", import.meta.url),
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(output.code, 0);
    return new TextDecoder().decode(output.stderr) + new TextDecoder().decode(output.stdout);
  };
  const collector = await help("collector/main.ts");
  for (const flag of ["--api-token-file FILE", "--tls-cert FILE", "--tls-key FILE"]) {
    assert(collector.includes(flag), `collector --help lacks ${flag}`);
  }
  const scraper = await help("scraper/main.ts");
  for (
    const flag of [
      "--api-token-file FILE",
      "--tls-cert FILE",
      "--tls-key FILE",
      "--collector-token-file FILE",
      "--collector-ca FILE",
    ]
  ) {
    assert(scraper.includes(flag), `scraper --help lacks ${flag}`);
  }
});
