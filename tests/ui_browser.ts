// Headless Debian chromium driven by playwright-core, for the matrix page's tests.
import { type BrowserContext, chromium } from "playwright-core";

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
