/**
 * What `serveHttp` asks of a request before its handler sees it: a valid API token on every path
 * but the open ones (`/status`, for health checks), and what it answers when there is none.
 *
 * @module
 */
import type { ApiTokens, TokenCheck } from "./api_tokens.ts";
import type { TlsIdentity } from "./tls_files.ts";

/** How a server is locked down: API tokens, HTTPS, or both. */
export interface HttpSecurity {
  /**
   * The tokens every request but those of `openPaths` must carry (`Authorization: Bearer
   * TOKEN`), read at each request so that a program can swap them on SIGHUP. Undefined, or a
   * function returning undefined: no token is asked for.
   */
  tokens?: () => ApiTokens | undefined;
  /** Paths answered without a token, whatever the method. Default: `/status` only. */
  openPaths?: readonly string[];
  /** Serve HTTPS with this certificate chain and key (`loadTlsIdentity`). */
  tls?: TlsIdentity;
}

/** Paths a server answers without a token unless told otherwise: health checks. */
export const OPEN_PATHS: readonly string[] = Object.freeze(["/status"]);

/**
 * Why the request `url` (as `node:http` gives it) with header `authorization` is refused, or
 * undefined when it may go on.
 */
export function refusal(
  security: HttpSecurity | undefined,
  url: string | undefined,
  authorization: string | undefined,
): Exclude<TokenCheck, "valid"> | undefined {
  const tokens = security?.tokens?.();
  if (tokens === undefined) return undefined;
  const open = security?.openPaths ?? OPEN_PATHS;
  if (open.includes(pathOf(url))) return undefined;
  const check = tokens.check(authorization);
  return check === "valid" ? undefined : check;
}

/**
 * The 401 answer: JSON saying what was wrong, with challenges for API clients (Bearer) and for
 * browsers (Basic: any user name, the token as password), so the matrix page can be opened.
 */
export function unauthorizedResponse(problem: Exclude<TokenCheck, "valid">): Response {
  return Response.json({
    error: problem === "missing"
      ? "an API token is needed: send Authorization: Bearer TOKEN"
      : "the API token is not valid",
  }, {
    status: 401,
    headers: { "www-authenticate": 'Bearer realm="llama", Basic realm="llama", charset="UTF-8"' },
  });
}

/** The path of a request target (`/a/b?c` → `/a/b`), without building a URL. */
function pathOf(url: string | undefined): string {
  if (url === undefined || url === "") return "/";
  const end = url.search(/[?#]/);
  return end < 0 ? url : url.slice(0, end);
}
