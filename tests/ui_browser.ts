// Headless Debian chromium driven by playwright-core, for the matrix page's tests.
import { type BrowserContext, chromium, type Page } from "playwright-core";

/** Where Debian's `chromium` package installs the browser. */
export const CHROMIUM = "/usr/bin/chromium";

/** A browser with a profile of its own, removed on dispose. */
export interface TestBrowser extends AsyncDisposable {
  /** The browser's only context (a persistent one: its profile is a fresh temporary folder). */
  context: BrowserContext;
}

/** Starts headless chromium with a fresh profile, 1200 × 800, that talks only to what it is sent to. */
export async function launchBrowser(): Promise<TestBrowser> {
  const profile = await Deno.makeTempDir({ prefix: "llama-ui-chromium-" });
  let context: BrowserContext;
  try {
    // launchPersistentContext passes the profile as --user-data-dir.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1200, height: 800 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  } catch (error) {
    await Deno.remove(profile, { recursive: true });
    throw error;
  }
  return {
    context,
    [Symbol.asyncDispose]: async () => {
      await context.close();
      await Deno.remove(profile, { recursive: true });
    },
  };
}

/** `test-artifacts/NAME`, its folder created: screenshots a CI run keeps. */
export async function artifactPath(name: string): Promise<string> {
  const folder = new URL("../test-artifacts/", import.meta.url);
  await Deno.mkdir(folder, { recursive: true });
  return new URL(name, folder).pathname;
}

// The routes a collector or scraper without tracing answers 404, which the page expects.
const OPTIONAL_ROUTES = /\/api\/v1\/(traces|suspects)$/;

/**
 * Collects what went wrong in `page` from now on: uncaught errors, error-level console messages
 * and dialogs. Chromium logs every fetch answered 404 as an error; those of the trace routes,
 * which a server without tracing answers 404, are left out.
 */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const optional = OPTIONAL_ROUTES.test(
      new URL(message.location().url || "about:blank").pathname,
    );
    if (optional && /status of 404/.test(message.text())) return;
    errors.push(message.text());
  });
  page.on("dialog", (dialog) => errors.push(`dialog: ${dialog.message()}`));
  return errors;
}
