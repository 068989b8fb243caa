/**
 * Shared secrets for authenticated measurement packets, read from a key file: one key a line,
 * `ID HEX_SECRET`, `#` starting a comment, blank lines ignored. The format says nothing about the
 * protocol that uses the keys (STAMP today, authenticated LLAMA probes later).
 *
 * @module
 */
import { ConfigError } from "./errors.ts";

/** The shortest secret accepted, in bytes: RFC 4656 and RFC 8762 ask for at least 128 bits. */
export const MIN_SECRET_BYTES = 16;

/** One shared secret and the name it is known by. */
export interface SharedKey {
  /** The key's name in the file (letters, digits, `.`, `_`, `-`, `:`). */
  readonly id: string;
  /** The secret bytes. */
  readonly secret: Uint8Array;
}

/**
 * Keys by id, in file order. The first key signs what its user sends (`signingKey`); all of them
 * are accepted when checking what arrives.
 */
export interface Keyring {
  /** The first key of the file: the one to sign with. */
  readonly signingKey: SharedKey;
  /** Every key, in file order. */
  readonly keys: readonly SharedKey[];
  /** How many keys there are (at least 1). */
  readonly size: number;
  /** The key named `id`, or undefined. */
  key(id: string): SharedKey | undefined;
}

const ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
const HEX_PATTERN = /^[0-9a-fA-F]*$/;

/**
 * Parses a key file. Errors are `ConfigError`s naming the file, line and column
 * (`keys.txt:3:5: …`): a line that is not
 * `ID HEX_SECRET`, an id used twice, a secret that is not hex, has an odd number of digits, or is
 * shorter than 16 bytes; a file without keys.
 *
 * @example
 * ```ts
 * import { parseKeyFile } from "@llama/core";
 * const keyring = parseKeyFile("# lab routers\nlab 000102030405060708090a0b0c0d0e0f\n", "keys.txt");
 * console.assert(keyring.size === 1 && keyring.signingKey.id === "lab");
 * console.assert(keyring.key("lab")?.secret.length === 16);
 * ```
 */
export function parseKeyFile(text: string, file = "key file"): Keyring {
  const keys: SharedKey[] = [];
  const byId = new Map<string, SharedKey>();
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index].replace(/#.*$/, "").trimEnd();
    if (line.trim() === "") continue;
    const fields = line.trim().split(/\s+/);
    // The column of the field at fault (the first one when the line's shape is wrong).
    const idColumn = line.length - line.trimStart().length + 1;
    const secretColumn = line.lastIndexOf(fields[fields.length - 1]) + 1;
    const where = { file, line: index + 1, column: idColumn };
    const atSecret = { file, line: index + 1, column: secretColumn };
    if (fields.length !== 2) {
      throw new ConfigError(
        `expected "ID HEX_SECRET", got ${fields.length} field${fields.length === 1 ? "" : "s"}`,
        where,
      );
    }
    const [id, hex] = fields;
    if (!ID_PATTERN.test(id)) {
      throw new ConfigError(
        `key id "${id}" must be 1 to 64 letters, digits, ".", "_", "-" or ":"`,
        where,
      );
    }
    if (byId.has(id)) throw new ConfigError(`key id "${id}" is used twice`, where);
    if (!HEX_PATTERN.test(hex)) {
      throw new ConfigError(`the secret of key "${id}" is not hexadecimal`, atSecret);
    }
    if (hex.length % 2 !== 0) {
      throw new ConfigError(
        `the secret of key "${id}" has an odd number of hex digits (${hex.length})`,
        atSecret,
      );
    }
    if (hex.length / 2 < MIN_SECRET_BYTES) {
      throw new ConfigError(
        `the secret of key "${id}" is ${hex.length / 2} bytes; at least ${MIN_SECRET_BYTES} ` +
          `(${MIN_SECRET_BYTES * 2} hex digits) are needed`,
        atSecret,
      );
    }
    const secret = new Uint8Array(hex.length / 2);
    for (let byte = 0; byte < secret.length; byte++) {
      secret[byte] = parseInt(hex.slice(byte * 2, byte * 2 + 2), 16);
    }
    const key = Object.freeze({ id, secret });
    keys.push(key);
    byId.set(id, key);
  }
  if (keys.length === 0) {
    throw new ConfigError('no keys: expected lines of "ID HEX_SECRET"', { file });
  }
  return Object.freeze({
    signingKey: keys[0],
    keys: Object.freeze(keys),
    size: keys.length,
    key: (id: string) => byId.get(id),
  });
}

/**
 * Reads and parses a key file (see `parseKeyFile`); a file that cannot be read is a
 * `ConfigError` naming it.
 *
 * @example
 * ```ts ignore
 * import { loadKeyFile } from "@llama/core";
 * const keyring = await loadKeyFile("/etc/llama/stamp-keys.txt");
 * ```
 */
export async function loadKeyFile(path: string): Promise<Keyring> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError(`cannot read the key file: ${(error as Error).message}`, {
      file: path,
      cause: error,
    });
  }
  return parseKeyFile(text, path);
}
