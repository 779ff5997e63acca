/**
 * The console as a new user meets it (issue 14), in a real browser over the in-process stack: a new
 * account's empty pages say the next step; VPCs, subnets and ENIs are listed, created and deleted in
 * the console; an ENI shows its agent, last heartbeat and whether its data flows; no state of an earlier
 * action stays (field errors, charts after a failed query, a dialog after leaving its page, counts
 * while tailing); a read-only key sees no write actions; the records table fits its card at 1400 px.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayCapture } from '@flowlogs/capture-agent';
import { topicNames } from '@flowlogs/contracts';
import { createKafka, reliableProducer } from '@flowlogs/kafka';
import { DEMO_NETWORK, demoCapture } from '@flowlogs/packet/demo-capture';
import { kafkaBrokers } from '@flowlogs/testkit';
import { TEST_API_KEY, startStack, type Stack } from '../support/stack.js';
import { SKIP_REASON, createLogTopicInDialog, hasChromium, launchBrowser, screenshot, signIn } from './browser.js';

const PEER = '10.0.1.20'; // the demo's ping peer
const AGENT = 'walkthrough-host';

const poll = <T>(fn: () => Promise<T> | T) => expect.poll(fn, { timeout: 20_000 });

describe.skipIf(!hasChromium)(
  hasChromium ? 'the console for a new user' : `the console for a new user (${SKIP_REASON})`,
  () => {
    let stack: Stack;
    let browser: Browser;
    /** A second, new account's admin key: it has nothing yet. */
    let newKey: string;
    const inv: Record<string, any> = {};

    beforeAll(async () => {
      [stack, browser] = await Promise.all([startStack({ FLOWLOGS_IDLE_CLOSE_MS: '500' }), launchBrowser()]);
      const { api } = stack;
      newKey = (await api('POST', '/v1/accounts', { name: 'newcomer' })).body.adminKey;
      inv.vpc = (await api('POST', '/v1/vpcs', { name: 'prod', cidrBlock: DEMO_NETWORK.vpcCidr })).body;
      inv.subnet = (
        await api('POST', '/v1/subnets', { vpcId: inv.vpc.id, name: 'web', cidrBlock: DEMO_NETWORK.subnetCidr })
      ).body;
      // Registered as its capture agent does.
      inv.eni = (
        await api('PUT', '/v1/network-interfaces/eni-walk1', {
          subnetId: inv.subnet.id,
          name: 'web-1',
          primaryIp: DEMO_NETWORK.eniIp,
          agentId: AGENT,
        })
      ).body;
    });
    afterAll(async () => {
      await browser?.close();
      await stack?.stop();
    });

    const go = async (page: Page, hash: string) => {
      await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
      await page.locator('main h1').first().waitFor();
    };
    const emptyText = (page: Page) => page.locator('td.empty').textContent();
    const row = (page: Page, name: string) =>
      page.locator('main table.list tbody tr', { has: page.getByText(name, { exact: true }) });

    it("says a new account's next step on every empty page, and +New's empty ENI choice what to do", async () => {
      const { page, problems } = await signIn(browser, stack.url, newKey);
      expect(await emptyText(page)).toContain('first create a VPC, a subnet and an ENI');
      await screenshot(page, 'flow-logs-empty');
      await go(page, '#/vpcs');
      await poll(() => emptyText(page)).toContain('No VPCs yet. Create one with +New');
      await screenshot(page, 'vpcs-empty');
      await go(page, '#/subnets');
      await poll(() => emptyText(page)).toContain('A subnet lies in a VPC: first create a VPC.');
      await go(page, '#/network-interfaces');
      await poll(() => emptyText(page)).toContain('or run a capture agent on the host, which registers its ENIs');
      await screenshot(page, 'enis-empty');
      // The README's agent part is there to read, from the control plane itself.
      const docs = await page.locator('td.empty a[target=_blank]').getAttribute('href');
      const readme = await fetch(new URL(docs!, stack.url));
      expect(readme.status).toBe(200);
      expect(await readme.text()).toContain(decodeURIComponent(docs!.split(':~:text=')[1]));

      await go(page, '#/flow-logs');
      await page.click('#new-flow-log');
      await page.waitForSelector('dialog.form-dialog[open]');
      expect(await page.locator('#fl-eni option').allTextContents()).toEqual(['No ENI in this VPC/subnet']);
      expect(await page.textContent('#fl-eni-hint')).toMatch(
        /create one on the ENIs page, or run a capture agent on the host/,
      );
      await screenshot(page, 'dialog-no-eni', false);
      // Following the hint leaves the dialog behind with its page.
      await page.click('#fl-eni-hint a[href="#/network-interfaces"]');
      await page.waitForURL(/#\/network-interfaces$/);
      await page.waitForSelector('dialog.form-dialog', { state: 'detached' });
      expect(problems).toEqual([]);
      await page.context().close();
    });

    it('lists, creates and deletes VPCs, subnets and ENIs, clearing each field error once it is fixed', async () => {
      const { page, problems } = await signIn(browser, stack.url, newKey);
      await go(page, '#/vpcs');
      await page.click('#new-vpc');
      await page.click('#vpc-create');
      await poll(() => page.textContent('#vpc-name-error')).toBe('Enter a name.');
      await page.fill('#vpc-name', 'lab');
      expect(await page.textContent('#vpc-name-error')).toBe(''); // fixed, so no longer said
      await page.fill('#vpc-cidrBlock', '10.20.0.1/16');
      await page.click('#vpc-create');
      await poll(() => page.textContent('#vpc-cidrBlock-error')).toContain('host bits');
      await page.fill('#vpc-cidrBlock', '10.20.0.0/16');
      expect(await page.textContent('#vpc-cidrBlock-error')).toBe('');
      await page.click('#vpc-create');
      await poll(() => page.textContent('#vpc-notice')).toMatch(
        /^Created VPC lab \(vpc-\w+\)\. Next: create a subnet in it\.$/,
      );
      expect(await row(page, 'lab').textContent()).toContain('10.20.0.0/16');
      const vpc = (await stack.api('GET', '/v1/vpcs', undefined, newKey)).body.items[0];
      expect(vpc).toMatchObject({ name: 'lab', cidrBlock: '10.20.0.0/16' });
      await screenshot(page, 'vpcs');

      await page.click('#vpc-notice a');
      await page.waitForURL(/#\/subnets$/);
      await page.click('#new-subnet');
      await page.selectOption('#subnet-vpcId', vpc.id);
      await page.fill('#subnet-name', 'lab-a');
      await page.fill('#subnet-cidrBlock', '10.99.1.0/24');
      await page.click('#subnet-create');
      await poll(() => page.textContent('#subnet-cidrBlock-error')).toContain('is not inside VPC');
      await page.fill('#subnet-cidrBlock', '10.20.1.0/24');
      await page.click('#subnet-create');
      await poll(() => page.textContent('#subnet-notice')).toContain(
        'Next: create an ENI in it, or run a capture agent',
      );
      expect(await row(page, 'lab-a').textContent()).toContain(`lab${vpc.id}`);
      await screenshot(page, 'subnets');

      await go(page, '#/network-interfaces');
      await page.click('#new-eni');
      const subnet = (await stack.api('GET', '/v1/subnets', undefined, newKey)).body.items[0];
      await page.selectOption('#eni-subnetId', subnet.id);
      await page.fill('#eni-name', 'lab-1');
      await page.fill('#eni-primaryIp', '10.20.1.5');
      await page.click('#eni-create');
      await poll(() => page.textContent('#eni-notice')).toContain('Next: a flow log on it');
      const made = row(page, 'lab-1');
      await poll(() => made.textContent()).toContain('none (created here)');
      expect(await made.textContent()).toContain('Not recorded');
      // An agent registering it is shown.
      const eni = (await stack.api('GET', '/v1/network-interfaces', undefined, newKey)).body.items[0];
      await stack.api(
        'PUT',
        `/v1/network-interfaces/${eni.id}`,
        { subnetId: subnet.id, name: 'lab-1', primaryIp: '10.20.1.5', agentId: 'lab-host' },
        newKey,
      );
      await page.click('button:text("Refresh")');
      await poll(() => made.locator('td[data-label="Agent"]').textContent()).toMatch(/^lab-hostregistered \d+ s ago$/);

      // A VPC in use stays, and says by what; an ENI goes.
      await go(page, '#/vpcs');
      await row(page, 'lab').getByRole('button', { name: 'Delete' }).click();
      await page.click('dialog.confirm button[value=ok]');
      await poll(() => page.textContent('#vpc-notice')).toMatch(/^lab: VPC vpc-\w+ is in use by/);
      await go(page, '#/network-interfaces');
      await row(page, 'lab-1').getByRole('button', { name: 'Delete' }).click();
      await page.click('dialog.confirm button[value=ok]');
      await poll(() => page.textContent('#eni-notice')).toBe('Deleted ENI lab-1.');
      expect((await stack.api('GET', `/v1/network-interfaces/${eni.id}`, undefined, newKey)).status).toBe(404);
      expect(problems).toEqual([]);
      await page.context().close();
    });

    it('creates a flow log with a confirmation and its tags in the list; then records flow, live, into header, panels and the ENI page', async () => {
      const { page, problems } = await signIn(browser, stack.url, TEST_API_KEY, { width: 1400, height: 900 });
      await page.click('#new-flow-log');
      await page.waitForSelector('dialog.form-dialog[open]');
      await page.click('#fl-ok');
      await poll(() => page.textContent('#fl-name-error')).toBe('Enter a name.');
      await page.fill('#fl-name', 'walk');
      expect(await page.textContent('#fl-name-error')).toBe(''); // not "Enter a name." under a filled name
      expect(await page.locator('#fl-name-field.invalid').count()).toBe(0);
      await page.selectOption('#fl-eni', inv.eni.id);
      expect(await page.textContent('#fl-eni-error')).toBe('');
      await createLogTopicInDialog(page, 'walk-logs', 'walk-topic');
      for (const [key, value] of [
        ['team', 'web'],
        ['env', 'prod'],
      ]) {
        await page.click('#fl-add-tag');
        await page.locator('.tag-row .tag-key').last().fill(key);
        await page.locator('.tag-row .tag-value').last().fill(value);
      }
      await page.selectOption('#fl-interval', '5');
      await page.click('#fl-ok');
      await page.waitForSelector('dialog.form-dialog', { state: 'detached' });
      const flowLog = (await stack.api('GET', '/v1/flow-logs')).body.items.find((f: any) => f.name === 'walk');
      await poll(() => page.textContent('main .notice')).toBe(
        `Created flow log walk (${flowLog.id}). Its records appear in its log topic within 5 s of traffic: Check.`,
      );
      await poll(() => row(page, 'walk').locator('td[data-label="Tags"] .tag').allTextContents()).toEqual([
        'team: web',
        'env: prod',
      ]);
      await screenshot(page, 'flow-log-created');

      // Nothing yet: an empty chart, not an axis of "1 B / 1 B / 0 B".
      await page.click('.notice a');
      await page.waitForURL(new RegExp(`#/search/${flowLog.logTopicId}`));
      await poll(() => page.textContent('#result-status')).toBe('No records');
      await poll(() => page.textContent('#panel-histogram .panel-body')).toBe('No traffic.');
      expect(await page.locator('#panel-histogram svg').count()).toBe(0);

      // Live tail from an empty result: the rows count in the header, and the panels follow.
      await page.locator('#live-tail').check();
      await poll(() => page.textContent('#tail-note')).toContain('Live');
      const producer = reliableProducer(createKafka(kafkaBrokers(), 'walkthrough-agent', stack.log));
      await producer.connect();
      const dir = mkdtempSync(join(tmpdir(), 'flowlogs-walk-'));
      writeFileSync(join(dir, 'demo.pcap'), demoCapture(1_700_000_000));
      const eni = { eniId: inv.eni.id, accountId: inv.eni.accountId, vpcId: inv.vpc.id, subnetId: inv.subnet.id };
      await replayCapture({
        producer,
        topic: topicNames(stack.prefix).packets,
        log: stack.log,
        eni,
        agentId: AGENT,
        secret: await stack.bindAgent(eni.eniId, AGENT),
        path: join(dir, 'demo.pcap'),
        speed: 'max',
        rebase: true,
        batchPackets: 50,
      });
      await producer.disconnect();
      await page.locator('table.records tbody tr.tailed').first().waitFor({ timeout: 90_000 });
      await poll(() => page.textContent('#result-status')).toMatch(/^\d+ new from the live tail$/);
      await poll(() => page.locator('#panel-histogram rect.bar').count()).toBeGreaterThan(0);
      await poll(() => page.textContent('#panel-top-src')).toContain(PEER);
      await page.locator('#live-tail').uncheck();

      // At 1400 px the records table stays inside its card: it scrolls there, and nothing else does.
      await page.click('#search');
      await poll(() =>
        page.locator('table.records tbody tr:not(.tailed) td[data-label="srcaddr"]').count(),
      ).toBeGreaterThan(0);
      await screenshot(page, 'search-1400');
      const fit = await page.evaluate(`(() => {
      const card = document.querySelector('section.results').getBoundingClientRect();
      const wrap = document.querySelector('section.results .table-wrap');
      const box = wrap.getBoundingClientRect();
      return { inside: box.left >= card.left && box.right <= card.right, fits: wrap.scrollWidth <= wrap.clientWidth, pageOverflow: document.documentElement.scrollWidth - innerWidth };
    })()`);
      expect(fit).toEqual({ inside: true, fits: true, pageOverflow: 0 });

      // A query the API refuses: no chart of the search before stays.
      await page.fill('#q', 'dstport:[1 TO');
      await page.click('#search');
      await poll(() => page.textContent('#q-error')).toMatch(/\S/);
      await poll(() => page.locator('#panel-histogram rect.bar').count()).toBe(0);
      for (const id of ['histogram', 'top-src', 'top-dst', 'actions'])
        expect(await page.textContent(`#panel-${id} .panel-body`)).toBe('No results: correct the query.');
      await page.fill('#q', PEER); // and the message goes with the mistake
      expect(await page.textContent('#q-error')).toBe('');

      // The ENI page: its agent, its last heartbeat and its data flowing.
      await go(page, '#/network-interfaces');
      const eniRow = row(page, 'web-1');
      await poll(() => eniRow.locator('td[data-label="Data"]').textContent()).toMatch(
        /^Flowinglast traffic \d+ s ago$/,
      );
      expect(await eniRow.locator('td[data-label="Agent"]').textContent()).toMatch(
        new RegExp(`^${AGENT}registered \\d+ (s|min) ago$`),
      );
      expect(await eniRow.locator('td[data-label="Last heartbeat"]').textContent()).toMatch(/^\d+ s ago$/);
      await screenshot(page, 'enis');
      expect(problems).toEqual([]);
      await page.context().close();
    }, 180_000);

    it('says "not found" in every panel for a log topic that is not there', async () => {
      const { page } = await signIn(browser, stack.url, TEST_API_KEY);
      await go(page, '#/search/topic-doesnotexist');
      await poll(() => page.textContent('#result-status')).toContain('not found');
      for (const id of ['histogram', 'top-src', 'top-dst', 'actions'])
        await poll(() => page.textContent(`#panel-${id} .panel-body`)).toBe('Log topic not found.');
      await screenshot(page, 'search-not-found');
      await page.context().close();
    });

    it('shows a read-only key no write action', async () => {
      const readonly = (await stack.api('POST', '/v1/api-keys', { role: 'readonly', name: 'viewer' })).body.key;
      const { page, problems } = await signIn(browser, stack.url, readonly);
      expect(await page.isVisible('#read-only')).toBe(true);
      await row(page, 'walk').waitFor();
      expect(await page.isVisible('#new-flow-log')).toBe(false);
      for (const action of ['Disable', 'Enable', 'Delete'])
        expect(await row(page, 'walk').getByRole('button', { name: action }).isVisible()).toBe(false);
      expect(await row(page, 'walk').getByText('Check').isVisible()).toBe(true); // reading stays
      for (const [hash, name, create] of [
        ['#/vpcs', 'prod', '#new-vpc'],
        ['#/subnets', 'web', '#new-subnet'],
        ['#/network-interfaces', 'web-1', '#new-eni'],
      ]) {
        await go(page, hash);
        await row(page, name).waitFor();
        expect(await page.isVisible(create), create).toBe(false);
        expect(await row(page, name).getByRole('button', { name: 'Delete' }).isVisible()).toBe(false);
      }
      expect(await page.locator('main table.list th', { hasText: 'Operation' }).isVisible()).toBe(false); // nothing to do there
      await screenshot(page, 'enis-read-only');
      // The admin's own view still has them.
      const admin = await signIn(browser, stack.url, TEST_API_KEY);
      expect(await admin.page.isVisible('#new-flow-log')).toBe(true);
      expect(await admin.page.isVisible('#read-only')).toBe(false);
      expect(problems).toEqual([]);
      await page.context().close();
      await admin.page.context().close();
    });
  },
);
