// serveHttp locked down: API tokens on every path but /status, and HTTPS with a certificate made
// here by OpenSSL, with the connection cap and the header deadline still holding for TLS.
import { ok as assert, strictEqual as assertEquals } from "node:assert/strict";
import { type HttpServer, parseTokenFile, serveHttp } from "@llama/core";
import { loadTlsIdentity } from "@llama/core";
import { assertRequirement } from "./_requirements.ts";
import { makeCertificates, NEEDS_OPENSSL } from "./_tls.ts";

const TOKEN = "5f0c1e9a7b3d42c6a8e1f0b9d7c5a3e1";
const tokens = parseTokenFile(`${TOKEN}\n`, "tokens.txt");

function answerAll(): (request: Request) => Response {
  return (request) => new Response(`${request.method} ${new URL(request.url).pathname}`);
}

async function get(
  url: string,
  init: RequestInit & { client?: Deno.HttpClient } = {},
): Promise<{ status: number; body: string; challenge: string | null }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });
  return {
    status: response.status,
    body: await response.text(),
    challenge: response.headers.get("www-authenticate"),
  };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let attempt = 0; attempt < 500 && !condition(); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert(condition(), `timed out waiting for ${what}`);
}

Deno.test("a server with tokens answers 401 without a valid one, except on /status", async () => {
  await using server = await serveHttp({ hostname: "127.0.0.1", port: 0 }, answerAll(), {
    name: "api",
    security: { tokens: () => tokens },
  });
  const base = `http://127.0.0.1:${server.address.port}`;
  for (const path of ["/", "/metrics", "/api/v1/summaries?flows=false", "/x", "/status/x"]) {
    const missing = await get(`${base}${path}`);
    assertEquals(missing.status, 401, path);
    assert(missing.body.includes("an API token is needed"), missing.body);
    assert(missing.challenge?.startsWith('Bearer realm="llama"'), `${missing.challenge}`);
    const wrong = await get(`${base}${path}`, {
      headers: { authorization: `Bearer ${TOKEN.replace("5", "6")}` },
    });
    assertEquals(wrong.status, 401, path);
    assert(wrong.body.includes("not valid"), wrong.body);
    const right = await get(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assertEquals(right.status, 200, path);
    assertEquals(right.body, `GET ${path.split("?")[0]}`);
  }
  // A POST, an action, is refused just the same, its body unread.
  const post = await fetch(`${base}/api/v1/traces`, { method: "POST", body: '{"target":"x"}' });
  assertEquals(post.status, 401);
  await post.body?.cancel();
  assertEquals((await get(`${base}/status`)).body, "GET /status");
  assertEquals((await get(`${base}/status?verbose=1`)).status, 200);
  const browser = await get(`${base}/`, {
    headers: { authorization: `Basic ${btoa(`me:${TOKEN}`)}` },
  });
  assertEquals(browser.status, 200);
  assertEquals(server.stats().unauthorized, 11);
});

Deno.test("tokens are read at each request, so a program can swap them", async () => {
  let current = tokens;
  await using server = await serveHttp({ hostname: "127.0.0.1", port: 0 }, answerAll(), {
    name: "api",
    security: { tokens: () => current },
  });
  const url = `http://127.0.0.1:${server.address.port}/metrics`;
  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
  assertEquals((await get(url, bearer(TOKEN))).status, 200);
  current = parseTokenFile("a-new-token-of-20-chars\n");
  assertEquals((await get(url, bearer(TOKEN))).status, 401);
  assertEquals((await get(url, bearer("a-new-token-of-20-chars"))).status, 200);
});

Deno.test({
  name: "HTTPS with a test CA: trusted with the CA, a failed handshake without it, counted",
  ignore: NEEDS_OPENSSL.ignore,
  async fn() {
    assertRequirement(NEEDS_OPENSSL);
    const directory = await Deno.makeTempDir({ prefix: "llama-tls-" });
    try {
      const files = await makeCertificates(directory);
      await using server = await serveHttp({ hostname: "127.0.0.1", port: 0 }, answerAll(), {
        name: "api",
        security: {
          tokens: () => tokens,
          tls: await loadTlsIdentity(files.certFile, files.keyFile),
        },
      });
      assertEquals(server.scheme, "https");
      const base = `https://127.0.0.1:${server.address.port}`;
      using client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(files.caFile)] });
      assertEquals((await get(`${base}/status`, { client })).body, "GET /status");
      assertEquals((await get(`${base}/metrics`, { client })).status, 401);
      const right = await get(`${base}/metrics`, {
        client,
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      assertEquals(right.body, "GET /metrics");
      const untrusted = await fetch(`${base}/status`).then(
        () => "answered",
        (error: Error) => String(error.cause ?? error),
      );
      assert(/certificate/i.test(untrusted), untrusted);
      await until(() => server.stats().tlsFailures === 1, "the failed handshake to be counted");
      // Plain HTTP to the HTTPS port is no TLS handshake either.
      const plain = await fetch(`http://127.0.0.1:${server.address.port}/status`).then(
        () => "answered",
        () => "failed",
      );
      assertEquals(plain, "failed");
      await until(() => server.stats().tlsFailures === 2, "the plain request to be counted");
      assertEquals(server.stats().requests, 3);
    } finally {
      await Deno.remove(directory, { recursive: true });
    }
  },
});

Deno.test({
  name: "TLS connections are capped, and closed by the header deadline if they stay silent",
  ignore: NEEDS_OPENSSL.ignore,
  async fn() {
    assertRequirement(NEEDS_OPENSSL);
    const directory = await Deno.makeTempDir({ prefix: "llama-tls-" });
    const conns: Deno.Conn[] = [];
    let server: HttpServer | undefined;
    try {
      const files = await makeCertificates(directory);
      server = await serveHttp({ hostname: "127.0.0.1", port: 0 }, answerAll(), {
        name: "api",
        limits: { maxConnections: 2, headersTimeoutMs: 300 },
        security: { tls: await loadTlsIdentity(files.certFile, files.keyFile) },
      });
      const port = server.address.port;
      // Connections that never start their handshake: two are held, a third is refused.
      for (let index = 0; index < 3; index++) {
        conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      }
      const stats = server;
      await until(() => stats.stats().refused === 1, "the third connection to be refused");
      await until(() => stats.stats().timedOut.headers === 2, "the header deadline to close two");
      assertEquals(server.stats().open, 0);
      assertEquals(server.stats().tlsFailures, 0);
      using client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(files.caFile)] });
      assertEquals((await get(`https://127.0.0.1:${port}/status`, { client })).status, 200);
    } finally {
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* closed by the server */ }
      }
      await server?.shutdown();
      await Deno.remove(directory, { recursive: true });
    }
  },
});
