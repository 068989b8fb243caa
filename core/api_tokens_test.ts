import {
  ok as assert,
  strictEqual as assertEquals,
  throws as assertThrows,
} from "node:assert/strict";
import { ConfigError } from "./errors.ts";
import { loadTokenFile, parseTokenFile } from "./api_tokens.ts";

const TOKEN = "q3V9xk2LmP0rT7wZ8yB1";
const OTHER = "Zr4-Yt6_Kp8.Hn2~Wd0+/x==";

function configError(text: string): ConfigError {
  try {
    parseTokenFile(text, "tokens.txt");
  } catch (error) {
    assert(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error;
  }
  throw new Error("expected the token file to be refused");
}

Deno.test("token files skip comments and blank lines, and every token is accepted", () => {
  const tokens = parseTokenFile(`# scrapers\n\n  ${TOKEN}  # prod\n${OTHER}\n`, "tokens.txt");
  assertEquals(tokens.size, 2);
  assertEquals(tokens.first, TOKEN);
  assertEquals(tokens.check(`Bearer ${TOKEN}`), "valid");
  assertEquals(tokens.check(`bearer ${OTHER}`), "valid");
});

Deno.test("a wrong, shorter, longer or prefixed token is invalid; no header is missing", () => {
  const tokens = parseTokenFile(TOKEN);
  assertEquals(tokens.check(`Bearer ${TOKEN.slice(0, -1)}X`), "invalid");
  assertEquals(tokens.check(`Bearer ${TOKEN.slice(0, -1)}`), "invalid");
  assertEquals(tokens.check(`Bearer ${TOKEN}x`), "invalid");
  assertEquals(tokens.check(`Bearer x${TOKEN}`), "invalid");
  assertEquals(tokens.check(`Token ${TOKEN}`), "missing");
  assertEquals(tokens.check(TOKEN), "missing");
  assertEquals(tokens.check("Bearer "), "missing");
  assertEquals(tokens.check(undefined), "missing");
  assertEquals(tokens.check(null), "missing");
});

Deno.test("basic authorization takes the token as its password, whatever the user", () => {
  const tokens = parseTokenFile(TOKEN);
  assertEquals(tokens.check(`Basic ${btoa(`anyone:${TOKEN}`)}`), "valid");
  assertEquals(tokens.check(`Basic ${btoa(`${TOKEN}:`)}`), "missing");
  assertEquals(tokens.check(`Basic ${btoa(`anyone:${OTHER}`)}`), "invalid");
  assertEquals(tokens.check("Basic !!not-base64!!"), "missing");
});

Deno.test("token file errors name the file, the line and what is wrong", () => {
  assertEquals(
    configError(`# ok\n${TOKEN}\nshort-token\n`).message,
    "tokens.txt:3:1: the token is 11 characters; at least 16 are needed " +
      "(openssl rand -hex 32 makes a good one)",
  );
  assert(configError(`${TOKEN} ${OTHER}\n`).message.startsWith("tokens.txt:1:1: expected one"));
  assert(configError(`  ${TOKEN}"quoted"\n`).message.startsWith("tokens.txt:1:3: a token may"));
  assert(configError(`${TOKEN}\n${TOKEN}\n`).message.includes(":2:1: the token is listed twice"));
  assertEquals(
    configError("# nothing\n\n").message,
    "tokens.txt: no tokens: expected one token a line",
  );
});

Deno.test("a token file that cannot be read is a config error naming it", async () => {
  const directory = await Deno.makeTempDir({ prefix: "llama-tokens-" });
  try {
    await Deno.writeTextFile(`${directory}/tokens.txt`, `${TOKEN}\n`);
    assertEquals((await loadTokenFile(`${directory}/tokens.txt`)).size, 1);
    const error = await loadTokenFile(`${directory}/missing.txt`).catch((error) => error);
    assert(error instanceof ConfigError);
    assert(error.message.startsWith(`${directory}/missing.txt: cannot read the token file`));
    assertThrows(() => parseTokenFile(""), ConfigError);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});
