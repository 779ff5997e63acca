/**
 * The web console in a real browser, served by the real control plane over the in-process stack
 * (Kafka, Postgres, aggregator, publisher): the seed's result validation through the console, the
 * dialog's validation, enable/disable/delete from the list, and account isolation.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayCapture } from '@flowlogs/capture-agent';
import { DEMO_NETWORK, demoCapture } from '@flowlogs/packet/demo-capture';
import { topicNames } from '@flowlogs/contracts';
import { createKafka, reliableProducer } from '@flowlogs/kafka';
import { ensureDayPartitions } from '@flowlogs/db';
import { kafkaBrokers, makeRecord } from '@flowlogs/testkit';
import { insertRecords } from '../../services/publisher/src/store.js';
import { hashApiKey } from '../../services/control-plane/src/api-key.js';
import { TEST_API_KEY, startStack, until, type Stack } from '../support/stack.js';
import {
  SKIP_REASON,
  createLogTopicInDialog,
  hasChromium,
  launchBrowser,
  screenshot,
  signIn,
  watchPage,
} from './browser.js';

const PEER = '10.0.1.20'; // the demo's ping peer
const OTHER_KEY = 'console-other-account-key-0123';

/** expect.poll with room for a loaded machine (its default gives up after 1 s). */
const poll = <T>(fn: () => Promise<T> | T) => expect.poll(fn, { timeout: 20_000 });

if (!hasChromium) console.warn(`test/console: ${SKIP_REASON}`);

describe.skipIf(!hasChromium)(hasChromium ? 'web console' : `web console (${SKIP_REASON})`, () => {
  let stack: Stack;
  let browser: Browser;
  const dir = mkdtempSync(join(tmpdir(), 'flowlogs-console-'));
  const inv: Record<string, any> = {};

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startStack({ FLOWLOGS_IDLE_CLOSE_MS: '500' }), launchBrowser()]);
    const { api } = stack;
    inv.vpc = (await api('POST', '/v1/vpcs', { name: 'prod', cidrBlock: DEMO_NETWORK.vpcCidr })).body;
    inv.subnet = (
      await api('POST', '/v1/subnets', { vpcId: inv.vpc.id, name: 'web', cidrBlock: DEMO_NETWORK.subnetCidr })
    ).body;
    inv.eni = (
      await api('POST', '/v1/network-interfaces', {
        subnetId: inv.subnet.id,
        name: 'web-1',
        primaryIp: DEMO_NETWORK.eniIp,
      })
    ).body;
    // A second VPC's ENI, which the ENI picker must leave out once the first VPC is chosen.
    const vpc2 = (await api('POST', '/v1/vpcs', { name: 'staging', cidrBlock: '10.9.0.0/16' })).body;
    const subnet2 = (await api('POST', '/v1/subnets', { vpcId: vpc2.id, name: 'stg', cidrBlock: '10.9.1.0/24' })).body;
    inv.eni2 = (
      await api('POST', '/v1/network-interfaces', { subnetId: subnet2.id, name: 'stg-1', primaryIp: '10.9.1.5' })
    ).body;
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  /** A fresh browser context (its own sessionStorage), signed in with `key`. */
  const signedIn = (key = TEST_API_KEY) => signIn(browser, stack.url, key);

  const row = (page: Page, name: string) =>
    page.locator('table.flow-logs tbody tr', { has: page.getByText(name, { exact: true }) });

  it('serves the console at / and its files under /console/, with no network beyond itself', async () => {
    const index = await fetch(`${stack.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toContain('text/html');
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await index.text()).toContain('/console/app.js');
    expect((await fetch(`${stack.url}/console/api.js`)).headers.get('content-type')).toContain('javascript');
    expect((await fetch(`${stack.url}/console/nope.js`)).status).toBe(404);
    expect((await fetch(`${stack.url}/console`, { redirect: 'manual' })).headers.get('location')).toBe('/');
    const apiAnswer = await fetch(`${stack.url}/v1/vpcs`);
    expect(apiAnswer.status).toBe(401); // the API still wants its key
    expect(apiAnswer.headers.get('content-security-policy')).toBeNull();
  });

  it('refuses an unknown key and keeps a known one for the tab until sign-out', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${stack.url}/#/flow-logs`);
    await page.waitForURL(/#\/sign-in$/);
    await page.fill('#api-key', 'not-a-key');
    await page.click('form.sign-in button[type=submit]');
    await poll(() => page.textContent('#api-key-error')).toBe('This API key is not known.');
    await page.fill('#api-key', TEST_API_KEY);
    await screenshot(page, 'sign-in');
    await page.click('form.sign-in button[type=submit]');
    await page.waitForURL(/#\/flow-logs$/);
    await page.reload();
    await page.waitForSelector('#new-flow-log'); // still signed in
    await page.click('#sign-out');
    await page.waitForURL(/#\/sign-in$/);
    await page.goto(`${stack.url}/#/flow-logs`);
    await page.waitForURL(/#\/sign-in$/);
    await page.context().close();
  });

  it("validates the create dialog: empty choices here, the API's 400 next to its field", async () => {
    const { page, problems } = await signedIn();
    await page.click('#new-flow-log');
    await page.waitForSelector('dialog.form-dialog[open]');
    await page.click('#fl-ok');
    await poll(() => page.textContent('#fl-name-error')).toBe('Enter a name.');
    expect(await page.textContent('#fl-eni-error')).toBe('Choose an ENI.');
    expect(await page.textContent('#fl-topic-error')).toBe('Choose a log topic, or create one.');
    await screenshot(page, 'dialog-errors', false);

    // Pickers follow the chosen VPC: the other VPC's ENI is not offered.
    await page.selectOption('#fl-vpc', inv.vpc.id);
    expect(await page.locator('#fl-eni option').allTextContents()).toEqual(['Select an ENI', `web-1 (${inv.eni.id})`]);

    // A logset name the API refuses (too long is the schema's, the dialog caps at 255): a blank one.
    await page.click('#fl-new-logset-open');
    await page.fill('#fl-new-logset', '   ');
    await page.click('#fl-new-logset-create');
    await poll(() => page.locator('#fl-logset-field .create-in-place .field-error').textContent()).toMatch(/\S/);
    await page.fill('#fl-new-logset', 'validation-logs');
    await page.click('#fl-new-logset-create');
    await poll(() => page.inputValue('#fl-logset')).toMatch(/^logset-/);
    await page.click('#fl-new-topic-open');
    await page.fill('#fl-new-topic', 'validation-topic');
    await page.click('#fl-new-topic-create');
    await poll(() => page.inputValue('#fl-topic')).toMatch(/^topic-/);

    // A tag with a value but no key goes to the API, which names tags.0.key.
    await page.fill('#fl-name', 'tagged');
    await page.selectOption('#fl-eni', inv.eni.id);
    await page.click('#fl-add-tag');
    await page.fill('.tag-row .tag-value', 'web');
    await page.click('#fl-ok');
    await poll(() => page.locator('.tag-row .field-error').textContent()).toMatch(/^Key: /);
    expect(await page.textContent('#fl-name-error')).toBe('');
    await screenshot(page, 'dialog-api-errors', false);
    await page.click('dialog.form-dialog footer button:text("Cancel")');
    expect((await stack.api('GET', '/v1/flow-logs')).body.items.filter((f: any) => f.name === 'tagged')).toEqual([]);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("creates a flow log in the dialog and finds the peer's records in Check (the seed's result validation)", async () => {
    const { page, problems } = await signedIn();
    await page.click('#new-flow-log');
    await page.waitForSelector('dialog.form-dialog[open]');
    await page.fill('#fl-name', 'web-1-all');
    await page.locator('#fl-range label', { hasText: 'ENI' }).click();
    await page.selectOption('#fl-eni', inv.eni.id); // fills in its VPC and subnet
    expect(await page.inputValue('#fl-vpc')).toBe(inv.vpc.id);
    expect(await page.inputValue('#fl-subnet')).toBe(inv.subnet.id);
    await page.locator('#fl-traffic label', { hasText: 'ALL' }).click();
    expect(await page.textContent('#fl-traffic-field .hint')).toContain('REJECT only traffic it dropped');
    await createLogTopicInDialog(page, 'seed-logs', 'seed-topic');
    await page.click('#fl-add-tag');
    await page.fill('.tag-row .tag-key', 'team');
    await page.fill('.tag-row .tag-value', 'web');
    expect(await page.inputValue('#fl-interval')).toBe('600'); // 10 min unless chosen
    await page.selectOption('#fl-interval', '10');
    await page.click('#fl-ok');
    await page.waitForSelector('dialog.form-dialog', { state: 'detached' });
    await row(page, 'web-1-all').waitFor();

    const flowLog = (await stack.api('GET', '/v1/flow-logs')).body.items.find((f: any) => f.name === 'web-1-all');
    expect(flowLog).toMatchObject({
      resourceType: 'NETWORKINTERFACE',
      resourceId: inv.eni.id,
      trafficType: 'ALL',
      aggregationInterval: 10,
      enabled: true,
      tags: [{ key: 'team', value: 'web' }],
    });
    const rowText = await row(page, 'web-1-all').textContent();
    for (const part of [flowLog.id, inv.eni.id, 'seed-topic', '10 s', 'Enabled', 'ALL'])
      expect(rowText).toContain(part);
    await screenshot(page, 'flow-logs');

    // The demo's traffic on that ENI, timestamps moved to now.
    const producer = reliableProducer(createKafka(kafkaBrokers(), 'console-test-agent', stack.log));
    await producer.connect();
    const eni = { eniId: inv.eni.id, accountId: inv.eni.accountId, vpcId: inv.vpc.id, subnetId: inv.subnet.id };
    const secret = await stack.bindAgent(eni.eniId, 'console-test');
    /** The demo capture at `start`, or moved to now (`rebase`). */
    const replay = async (start: number, rebase: boolean) => {
      const path = join(dir, `${start}.pcap`);
      writeFileSync(path, demoCapture(start));
      await replayCapture({
        producer,
        topic: topicNames(stack.prefix).packets,
        log: stack.log,
        eni,
        agentId: 'console-test',
        secret,
        path,
        speed: 'max',
        rebase,
        batchPackets: 50,
      });
    };
    const replayedAt = Math.floor(Date.now() / 1000);
    await replay(1_700_000_000, true); // its packets stamped as they are sent: at now
    await until(
      "the peer's records",
      async () => {
        const res = await stack.api('GET', `/v1/log-topics/${flowLog.logTopicId}/records?q=${PEER}`);
        return res.body.records?.length ? true : undefined;
      },
      120_000,
    );

    await row(page, 'web-1-all').getByText('Check').click();
    await page.waitForURL(new RegExp(`#/search/${flowLog.logTopicId}\\?flowLog=${flowLog.id}`));
    await page.selectOption('#time-range', '15m');
    await page.fill('#q', PEER);
    await page.click('#search');
    await page.waitForURL(/q=10\.0\.1\.20/);
    const rows = page.locator('table.records tbody tr');
    // Only the peer's records: the unfiltered searches before this one (on opening, on the range) never show up late.
    await poll(async () => {
      const t = await rows.allTextContents();
      return t.length > 0 && t.every((r) => r.includes(PEER));
    }).toBe(true);
    await poll(() => page.locator('#panel-histogram rect.bar').count()).toBeGreaterThan(0);
    await poll(() => page.locator('#panel-top-src li').allTextContents()).toEqual(
      expect.arrayContaining([expect.stringContaining(PEER)]),
    );
    await poll(() => page.textContent('#panel-actions')).toContain('ACCEPT');
    await poll(() => page.textContent('#health')).toContain('records/min');

    // Sorting by bytes, biggest first.
    await page.click('th button.sort[data-sort="bytes"]');
    expect(await page.locator('table.records th.active').textContent()).toBe('bytes ↓');
    const bytesColumn = async () =>
      (await page.locator('table.records td[data-label="bytes"]').allTextContents()).map((b) =>
        Number(b.replace(/\D/g, '')),
      );
    await poll(async () => {
      const b = await bytesColumn();
      return b.length > 1 && b.every((v, i) => i === 0 || b[i - 1] >= v);
    }).toBe(true);
    await screenshot(page, 'search-results');

    // pkt-srcaddr/pkt-dstaddr columns: none while every record's equal srcaddr/dstaddr, shown for a tunnel's.
    expect(await page.locator('table.records th', { hasText: 'pkt-srcaddr' }).count()).toBe(0);
    const now = Math.floor(Date.now() / 1000);
    const gre = makeRecord({
      accountId: inv.eni.accountId,
      interfaceId: inv.eni.id,
      vpcId: inv.vpc.id,
      subnetId: inv.subnet.id,
      flowLogId: flowLog.id,
      logTopicId: flowLog.logTopicId,
      srcaddr: PEER,
      dstaddr: '198.51.100.7',
      protocol: 47,
      srcport: 0,
      dstport: 0,
      pktSrcaddr: '192.168.50.1',
      pktDstaddr: '192.168.60.1',
      windowStart: now - 60,
      windowEnd: now,
      start: now - 50,
      end: now - 40,
    });
    await ensureDayPartitions(stack.db.pool, [gre.windowStart], new Set());
    await insertRecords(stack.db.pool, [gre]);
    await page.fill('#q', 'pkt-srcaddr:192.168.0.0/16');
    await page.click('#search');
    await poll(() => page.locator('table.records td[data-label="pkt-srcaddr"]').allTextContents()).toEqual([
      '192.168.50.1',
    ]);
    expect(await page.locator('table.records td[data-label="pkt-dstaddr"]').allTextContents()).toEqual([
      '192.168.60.1',
    ]);

    // Export: the whole result as CSV, through the API with the key in the header.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    const csv = readFileSync(await download.path(), 'utf8');
    expect(download.suggestedFilename()).toBe(`${flowLog.logTopicId}.csv`);
    expect(csv.split('\n')[1]).toContain(PEER);

    // A query the API cannot parse: its message under the search bar.
    await page.fill('#q', 'dstport:[1 TO');
    await page.click('#search');
    await poll(() => page.textContent('#q-error')).toMatch(/\S/);

    // Live tail: records of a new replay appear at the top.
    await page.fill('#q', PEER);
    await page.click('#search');
    await page.locator('#live-tail').check();
    await poll(() => page.textContent('#tail-note')).toContain('Live');
    // After the first replay's packets, so that none of them is late for windows already closed.
    await replay(Math.max(Math.floor(Date.now() / 1000), replayedAt + 25), false);
    await page.locator('table.records tbody tr.tailed').first().waitFor({ timeout: 90_000 });
    expect(await page.locator('table.records tbody tr.tailed').first().textContent()).toContain(PEER);
    await page.locator('#live-tail').uncheck();
    await producer.disconnect();
    expect(problems).toEqual([]);
    await page.context().close();
  }, 240_000);

  it('disables, enables and deletes from the list', async () => {
    const { api } = stack;
    const logset = (await api('POST', '/v1/logsets', { name: 'ops' })).body;
    const topic = (await api('POST', '/v1/log-topics', { logsetId: logset.id, name: 'ops' })).body;
    const made = (
      await api('POST', '/v1/flow-logs', {
        name: 'toggle-me',
        resourceType: 'SUBNET',
        resourceId: inv.subnet.id,
        trafficType: 'REJECT',
        logTopicId: topic.id,
      })
    ).body;
    const { page, problems } = await signedIn();
    const status = () => row(page, 'toggle-me').locator('.status').textContent();
    expect(await status()).toBe('Enabled');
    await row(page, 'toggle-me').getByRole('button', { name: 'Disable' }).click();
    await poll(status).toBe('Disabled');
    expect((await api('GET', `/v1/flow-logs/${made.id}`)).body).toMatchObject({ enabled: false, revision: 2 });
    await row(page, 'toggle-me').getByRole('button', { name: 'Enable' }).click();
    await poll(status).toBe('Enabled');
    expect((await api('GET', `/v1/flow-logs/${made.id}`)).body).toMatchObject({ enabled: true, revision: 3 });

    await row(page, 'toggle-me').getByRole('button', { name: 'Delete' }).click();
    await page.click('dialog.confirm button[value=cancel]');
    expect((await api('GET', `/v1/flow-logs/${made.id}`)).status).toBe(200);
    await row(page, 'toggle-me').getByRole('button', { name: 'Delete' }).click();
    await page.click('dialog.confirm button[value=ok]');
    await poll(() => row(page, 'toggle-me').count()).toBe(0);
    expect((await api('GET', `/v1/flow-logs/${made.id}`)).status).toBe(404);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('fits a narrow screen', async () => {
    const page = await (
      await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })
    ).newPage();
    const problems = watchPage(page, stack.url);
    await page.goto(`${stack.url}/`);
    await page.fill('#api-key', TEST_API_KEY);
    await page.click('form.sign-in button[type=submit]');
    await row(page, 'web-1-all').waitFor();
    const overflow = async () => Number(await page.evaluate('document.documentElement.scrollWidth')) - 390;
    expect(await overflow()).toBeLessThanOrEqual(0);
    await screenshot(page, 'flow-logs-narrow');
    await page.click('#new-flow-log');
    await page.waitForSelector('dialog.form-dialog[open]');
    await page.click('#fl-ok');
    await poll(() => page.textContent('#fl-name-error')).toBe('Enter a name.');
    await screenshot(page, 'dialog-narrow', false);
    await page.click('dialog.form-dialog footer button:text("Cancel")');
    await row(page, 'web-1-all').getByText('Check').click();
    await page.fill('#q', PEER);
    await page.click('#search');
    await poll(async () => (await page.locator('table.records tbody tr').allTextContents()).join('\n')).toContain(PEER);
    await poll(() => page.locator('#panel-histogram rect.bar').count()).toBeGreaterThan(0);
    expect(await overflow()).toBeLessThanOrEqual(0); // the records table scrolls inside its card
    await screenshot(page, 'search-narrow');
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("shows another account none of the first account's flow logs", async () => {
    await stack.db.pool.query("INSERT INTO accounts (id, name) VALUES ('acct-console', 'other')");
    await stack.db.pool.query(
      "INSERT INTO api_keys (id, account_id, key_hash, role) VALUES ('key-console', 'acct-console', $1, 'admin')",
      [hashApiKey(OTHER_KEY)],
    );
    const mine = (await stack.api('GET', '/v1/flow-logs')).body.items;
    expect(mine.length).toBeGreaterThan(0);
    const { page, problems } = await signedIn(OTHER_KEY);
    expect(await page.textContent('table.flow-logs tbody')).toContain('No flow logs yet');
    for (const f of mine) expect(await page.textContent('body')).not.toContain(f.id);
    // Its dialog offers none of the first account's inventory either.
    await page.click('#new-flow-log');
    await page.waitForSelector('dialog.form-dialog[open]');
    expect(await page.locator('#fl-eni option').allTextContents()).toEqual(['No ENI in this VPC/subnet']);
    expect(await page.locator('#fl-topic option').allTextContents()).toEqual(['Select a log topic']);
    // A first-account log topic by address: the API answers 404, the page says so.
    await page.goto(`${stack.url}/#/search/${mine[0].logTopicId}`);
    await poll(() => page.textContent('#result-status')).toContain('not found');
    expect(await page.locator('table.records tbody tr.tailed').count()).toBe(0);
    expect(problems).toEqual([]);
    await page.context().close();
  });
});
