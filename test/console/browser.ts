/**
 * The browser for the console tests: the machine's Chromium driven by playwright-core (no browser
 * download). Where /usr/bin/chromium is missing the tests are skipped and say so.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'vitest';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
export const SKIP_REASON = `skipped: ${CHROMIUM} is missing (apt-get install -y chromium; .ci/run installs it)`;

const SCREENSHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
  });
}

/** Saves the page as test-output/screenshots/<name>.png; answers the path. */
export async function screenshot(page: Page, name: string, fullPage = true): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage });
  return path;
}

/**
 * A fresh browser context (its own sessionStorage) signed in with `key` at `url`, on the Flow Logs page
 * once its list has drawn; the page's problems as watchPage finds them.
 */
export async function signIn(
  browser: Browser,
  url: string,
  key: string,
  viewport = { width: 1280, height: 860 },
): Promise<{ page: Page; problems: string[] }> {
  const page = await (await browser.newContext({ viewport, acceptDownloads: true })).newPage();
  const problems = watchPage(page, url);
  await page.goto(`${url}/`);
  await page.waitForURL(/#\/sign-in$/);
  await page.fill('#api-key', key);
  await page.click('form.sign-in button[type=submit]');
  await page.waitForURL(/#\/flow-logs$/);
  await page.locator('table.flow-logs tbody tr').first().waitFor();
  return { page, problems };
}

/** In the open +New dialog: a logset and a log topic in it, created in place and so chosen. */
export async function createLogTopicInDialog(page: Page, logset: string, topic: string): Promise<void> {
  for (const [what, name, prefix] of [
    ['logset', logset, 'logset-'],
    ['topic', topic, 'topic-'],
  ]) {
    await page.click(`#fl-new-${what}-open`);
    await page.fill(`#fl-new-${what}`, name);
    await page.click(`#fl-new-${what}-create`);
    await expect.poll(() => page.inputValue(`#fl-${what}`), { timeout: 20_000 }).toMatch(new RegExp(`^${prefix}`));
  }
}

/** A page whose console errors and failed requests to other hosts fail the test (no network beyond the control plane). */
export function watchPage(page: Page, origin: string): string[] {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/status of 4\d\d/.test(msg.text())) problems.push(`console error: ${msg.text()}`);
  });
  page.on('request', (req) => {
    if (!req.url().startsWith(origin) && !req.url().startsWith('data:') && !req.url().startsWith('blob:'))
      problems.push(`request beyond the control plane: ${req.url()}`);
  });
  return problems;
}
