/**
 * Bearer tokens that guard a program's HTTP API, read from a token file: one token a line, `#`
 * starting a comment, blank lines ignored. Tokens are compared in constant time: the SHA-256
 * digest of what a request carries is compared with every token's digest (`timingSafeEqual`),
 * all of them, so neither a token's length nor how many of its characters match shows in the
 * time an answer takes.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { ConfigError } from "./errors.ts";

/** The shortest token accepted, in characters. */
export const MIN_TOKEN_LENGTH = 16;

/** What a request's `Authorization` header was found to be. */
export type TokenCheck = "valid" | "missing" | "invalid";

/** The tokens of a token file. */
export interface ApiTokens {
  /** How many tokens there are (at least 1). */
  readonly size: number;
  /** The first token of the file: the one a client (the scraper) sends. */
  readonly first: string;
  /** The file they were read from, for messages. */
  readonly file: string;
  /**
   * Checks an `Authorization` header: `Bearer TOKEN`, or `Basic` with the token as the password
   * (any user name), so that a browser's login prompt opens the matrix page.
   */
  check(authorization: string | null | undefined): TokenCheck;
}

// RFC 6750's b64token: what may follow "Bearer " in a header.
const TOKEN_PATTERN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Parses a token file. Errors are `ConfigError`s naming the file and line (`tokens.txt:3:1: …`):
 * a line with more than one word, a token shorter than 16 characters or with characters a
 * bearer token cannot have, a token listed twice, a file without tokens.
 *
 * @example
 * ```ts
 * import { parseTokenFile } from "@llama/core";
 * const tokens = parseTokenFile("# the scrapers\nq3V9xk2LmP0rT7wZ8yB1\n", "tokens.txt");
 * console.assert(tokens.check("Bearer q3V9xk2LmP0rT7wZ8yB1") === "valid");
 * console.assert(tokens.check("Bearer q3V9xk2LmP0rT7wZ8yB2") === "invalid");
 * console.assert(tokens.check(null) === "missing");
 * ```
 */
export function parseTokenFile(text: string, file = "token file"): ApiTokens {
  const tokens: string[] = [];
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index].replace(/#.*$/, "").trimEnd();
    const token = line.trim();
    if (token === "") continue;
    const where = { file, line: index + 1, column: line.length - line.trimStart().length + 1 };
    if (/\s/.test(token)) {
      throw new ConfigError("expected one token a line, got more than one word", where);
    }
    if (!TOKEN_PATTERN.test(token)) {
      throw new ConfigError(
        "a token may hold only letters, digits and - . _ ~ + / (then = at its end)",
        where,
      );
    }
    if (token.length < MIN_TOKEN_LENGTH) {
      throw new ConfigError(
        `the token is ${token.length} characters; at least ${MIN_TOKEN_LENGTH} are needed ` +
          "(openssl rand -hex 32 makes a good one)",
        where,
      );
    }
    if (tokens.includes(token)) {
      throw new ConfigError(`the token is listed twice (line ${tokens.indexOf(token) + 1})`, where);
    }
    tokens.push(token);
  }
  if (tokens.length === 0) {
    throw new ConfigError("no tokens: expected one token a line", { file });
  }
  return new DigestTokens(tokens, file);
}

/**
 * Reads and parses a token file (see `parseTokenFile`); a file that cannot be read is a
 * `ConfigError` naming it.
 *
 * @example
 * ```ts ignore
 * import { loadTokenFile } from "@llama/core";
 * const tokens = await loadTokenFile("/etc/llama/api-tokens.txt");
 * ```
 */
export async function loadTokenFile(path: string): Promise<ApiTokens> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError(`cannot read the token file: ${(error as Error).message}`, {
      file: path,
      cause: error,
    });
  }
  return parseTokenFile(text, path);
}

class DigestTokens implements ApiTokens {
  readonly size: number;
  readonly first: string;
  readonly file: string;
  readonly #digests: readonly Uint8Array[];

  constructor(tokens: readonly string[], file: string) {
    this.size = tokens.length;
    this.first = tokens[0];
    this.file = file;
    this.#digests = tokens.map(digest);
  }

  check(authorization: string | null | undefined): TokenCheck {
    const token = presentedToken(authorization);
    if (token === undefined) return "missing";
    const presented = digest(token);
    // Every digest is compared, whichever matches: the time does not tell which one did.
    let matched = false;
    for (const known of this.#digests) matched = timingSafeEqual(presented, known) || matched;
    return matched ? "valid" : "invalid";
  }
}

function digest(token: string): Uint8Array {
  return createHash("sha256").update(token).digest();
}

/** The token of `Bearer TOKEN`, or the password of `Basic base64(user:password)`. */
function presentedToken(authorization: string | null | undefined): string | undefined {
  if (authorization === null || authorization === undefined) return undefined;
  const space = authorization.indexOf(" ");
  if (space < 0) return undefined;
  const scheme = authorization.slice(0, space).toLowerCase();
  const value = authorization.slice(space + 1).trim();
  if (value === "") return undefined;
  if (scheme === "bearer") return value;
  if (scheme !== "basic") return undefined;
  let decoded: string;
  try {
    decoded = new TextDecoder().decode(Uint8Array.from(atob(value), (char) => char.charCodeAt(0)));
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(":");
  return colon < 0 || colon === decoded.length - 1 ? undefined : decoded.slice(colon + 1);
}
