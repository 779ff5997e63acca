/**
 * Search, export, analysis, live tail and health of a log topic on the in-process stack, with records
 * inserted directly (and, for the tail, published to the log topic's Kafka topic).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIELD_KEYS, formatText, type FlowRecord } from '@flowlogs/contracts';
import { ensureDayPartitions } from '@flowlogs/db';
import { createKafka } from '@flowlogs/kafka';
import { kafkaBrokers, makeRecord } from '@flowlogs/testkit';
import { parseQuery, queryPredicate } from '../services/control-plane/src/query/index.js';
import { foldRollup, insertRecords } from '../services/publisher/src/store.js';
import { startStack, TEST_API_KEY, type Stack } from './support/stack.js';

const OTHER_KEY = 'test-other-account-key-0123';
const INTERVAL = 60;

let stack: Stack;
const ids: Record<string, string> = {};
let records: FlowRecord[];
let base: number; // the first window's start
let range: string;

function record(windowStart: number, over: Partial<FlowRecord>): FlowRecord {
  return makeRecord({
    accountId: ids.account,
    interfaceId: ids.eni,
    srcaddr: '10.16.0.22',
    dstaddr: '10.16.0.40',
    packets: 10,
    bytes: 1500,
    start: windowStart + 1,
    end: windowStart + 30,
    vpcId: ids.vpc,
    subnetId: ids.subnet,
    tcpFlags: 27,
    windowStart,
    windowEnd: windowStart + INTERVAL,
    flowLogId: ids.flowLog,
    logTopicId: ids.topic,
    ...over,
  });
}

/** Stores records as the publisher does (with their hourly rollup). */
async function insert(rs: FlowRecord[]) {
  await ensureDayPartitions(
    stack.db.pool,
    rs.map((r) => r.windowStart),
    new Set(),
  );
  await insertRecords(stack.db.pool, rs);
}

const get = async (path: string, key?: string) => {
  const res = await stack.api('GET', path, undefined, key);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};
const ids_ = (rs: FlowRecord[]) => rs.map((r) => r.recordId);
const matching = (q: string) => records.filter(queryPredicate(parseQuery(q)));

beforeAll(async () => {
  stack = await startStack();
  const { api } = stack;
  const post = async (path: string, body: unknown) => (await api('POST', path, body)).body;
  const vpc = await post('/v1/vpcs', { name: 'v', cidrBlock: '10.16.0.0/16' });
  const subnet = await post('/v1/subnets', { vpcId: vpc.id, name: 's', cidrBlock: '10.16.0.0/24' });
  const eni = await post('/v1/network-interfaces', { subnetId: subnet.id, name: 'e', primaryIp: '10.16.0.22' });
  const logset = await post('/v1/logsets', { name: 'l' });
  const topic = await post('/v1/log-topics', { logsetId: logset.id, name: 't' });
  const textTopic = await post('/v1/log-topics', { logsetId: logset.id, name: 'text', format: 'text' });
  const flowLog = await post('/v1/flow-logs', {
    name: 'f',
    resourceType: 'NETWORKINTERFACE',
    resourceId: eni.id,
    trafficType: 'ALL',
    logTopicId: topic.id,
    aggregationInterval: INTERVAL,
  });
  Object.assign(ids, {
    account: eni.accountId,
    vpc: vpc.id,
    subnet: subnet.id,
    eni: eni.id,
    topic: topic.id,
    kafkaTopic: topic.kafkaTopic,
    textTopic: textTopic.id,
    flowLog: flowLog.id,
  });

  // Three recent windows: HTTPS both ways, DNS, SSH rejected, a ping, IPv6, NODATA and SKIPDATA.
  base = Math.floor(Date.now() / 1000 / INTERVAL) * INTERVAL - 4 * INTERVAL;
  const w = (i: number) => base + i * INTERVAL;
  records = [
    record(w(0), { bytes: 120_000, packets: 90 }),
    record(w(0), {
      srcaddr: '10.16.0.40',
      dstaddr: '10.16.0.22',
      srcport: 443,
      dstport: 50_000,
      bytes: 2_400_000,
      packets: 1700,
      flowDirection: 'ingress',
    }),
    record(w(0), {
      dstaddr: '8.8.8.8',
      srcport: 53_211,
      dstport: 53,
      protocol: 17,
      packets: 1,
      bytes: 71,
      tcpFlags: null,
    }),
    record(w(1), {
      dstaddr: '10.16.0.40',
      srcport: 50_002,
      dstport: 22,
      packets: 3,
      bytes: 180,
      action: 'REJECT',
      tcpFlags: 2,
    }),
    record(w(1), { dstaddr: '1.1.1.1', srcport: 0, dstport: 0, protocol: 1, packets: 4, bytes: 336, tcpFlags: null }),
    record(w(1), {
      srcaddr: 'fd00:16::22',
      dstaddr: '2001:db8::1',
      dstport: 443,
      packets: 12,
      bytes: 4096,
      type: 'IPv6',
    }),
    record(w(2), {
      srcaddr: null,
      dstaddr: null,
      srcport: null,
      dstport: null,
      protocol: null,
      packets: null,
      bytes: null,
      start: null,
      end: null,
      action: null,
      logStatus: 'NODATA',
      tcpFlags: null,
      type: null,
      flowDirection: null,
    }),
    record(w(2), {
      srcaddr: null,
      dstaddr: null,
      srcport: null,
      dstport: null,
      protocol: null,
      packets: null,
      bytes: null,
      start: null,
      end: null,
      action: null,
      logStatus: 'SKIPDATA',
      tcpFlags: null,
      type: null,
      flowDirection: null,
      skippedPackets: 17,
    }),
    record(w(2), { dstaddr: '10.16.0.40', srcport: 50_010, dstport: 8080, packets: 20, bytes: 1_200_000 }),
    // A GRE tunnel: its outer addresses in srcaddr/dstaddr, the innermost in pkt-srcaddr/pkt-dstaddr.
    record(w(2), {
      srcaddr: '203.0.113.1',
      dstaddr: '203.0.113.9',
      pktSrcaddr: '10.99.0.1',
      pktDstaddr: '192.168.5.5',
      srcport: 0,
      dstport: 0,
      protocol: 47,
      packets: 5,
      bytes: 700,
      tcpFlags: null,
    }),
  ];
  await insert(records);
  range = `from=${base}&to=${w(3)}`;

  await stack.db.pool.query("INSERT INTO accounts (id, name) VALUES ('222222222222', 'other')");
  await stack.db.pool.query(
    "INSERT INTO api_keys (id, account_id, key_hash, role) VALUES ('key-other', '222222222222', $1, 'admin')",
    [createHash('sha256').update(OTHER_KEY).digest('hex')],
  );
});

afterAll(async () => stack?.stop());

describe('record search', () => {
  it('filters with the query language exactly as the tail predicate does', async () => {
    const queries = [
      '10.16.0.40',
      '2001:db8::/32',
      'srcaddr:10.16.0.0/24',
      'dstport:[1 TO 1024]',
      'protocol:udp OR protocol:icmp',
      'bytes:>1000000',
      'NOT dstport:443',
      'action:reject OR log-status:skipdata',
      'tcp-flags:27 flow-direction:egress',
      `type:ipv6 AND vpc-id:"${ids.vpc}"`,
      '10.16.0.40 AND (dstport:22 OR dstport:8080)',
      'packets:<=4 NOT protocol:tcp',
      'pkt-srcaddr:10.0.0.0/8',
      'pkt-dstaddr:192.168.5.5',
      'pkt-srcaddr:10.99.0.0/16 AND NOT srcaddr:10.0.0.0/8',
      'pktDstaddr:fd00::/8 OR pkt-srcaddr:fd00::/8',
    ];
    for (const q of queries) {
      const body = await get(`/v1/log-topics/${ids.topic}/records?${range}&q=${encodeURIComponent(q)}&limit=1000`);
      expect(ids_(body.records).sort(), q).toEqual(ids_(matching(q)).sort());
      expect(matching(q).length, q).toBeGreaterThan(0);
    }
  });

  it('finds the records of an address whose window began before the range, whatever its length, folded or not', async () => {
    // An hour before the others: a ten-minute window and one-minute ones around `from`, mid-window.
    const ten = Math.floor((base - 3600) / 600) * 600;
    const from = ten + 330;
    const at = (windowStart: number, length: number, start: number, srcport: number) =>
      record(windowStart, { srcaddr: '10.16.9.9', srcport, start, end: start + 1, windowEnd: windowStart + length });
    const inTen = at(ten, 600, ten + 10, 1); // overlaps from, starts 320 s before it
    const endedBefore = at(ten + 240, 60, ten + 241, 2); // its window ends before from
    const inMinute = at(ten + 300, 60, ten + 301, 3); // overlaps from, starts before it
    const after = at(ten + 360, 60, ten + 365, 4);
    await insert([inTen, endedBefore, inMinute, after]);
    const wanted = ids_([inTen, inMinute, after]);
    const search = async (q: string, sort: string) =>
      ids_(
        (
          await get(
            `/v1/log-topics/${ids.topic}/records?from=${from}&to=${from + 120}&q=${encodeURIComponent(q)}&sort=${sort}`,
          )
        ).records,
      );
    for (const pass of ['pending', 'folded']) {
      for (const q of ['10.16.9.9', 'srcaddr:10.16.9.9 AND protocol:6']) {
        expect(await search(q, 'start'), `${pass} ${q}`).toEqual(wanted);
        expect(await search(q, '-start'), `${pass} ${q}`).toEqual([...wanted].reverse());
        expect((await search(q, 'bytes')).sort(), `${pass} ${q}`).toEqual([...wanted].sort());
      }
      // The rows they left pending go into the series: the bound is read from there next.
      await foldRollup(stack.db.pool);
    }
  });

  it('pages through every sort with keyset cursors', async () => {
    const sorts = {
      start: (r: FlowRecord) => r.start ?? r.windowStart,
      bytes: (r: FlowRecord) => r.bytes ?? 0,
      packets: (r: FlowRecord) => r.packets ?? 0,
    };
    for (const [name, key] of Object.entries(sorts)) {
      for (const sort of [name, `-${name}`]) {
        const asc = [...records].sort((a, b) => key(a) - key(b) || (a.recordId < b.recordId ? -1 : 1));
        const expected = sort.startsWith('-') ? asc.reverse() : asc;
        const pages: FlowRecord[][] = [];
        let cursor: string | null = '';
        do {
          const page: { records: FlowRecord[]; nextCursor: string | null } = await get(
            `/v1/log-topics/${ids.topic}/records?${range}&sort=${sort}&limit=4${cursor ? `&cursor=${cursor}` : ''}`,
          );
          pages.push(page.records);
          cursor = page.nextCursor;
        } while (cursor);
        expect(
          pages.map((p) => p.length),
          sort,
        ).toEqual([4, 4, 2]);
        expect(ids_(pages.flat()), sort).toEqual(ids_(expected));
      }
    }
    const byStart = [...records].sort(
      (a, b) => (a.start ?? a.windowStart) - (b.start ?? b.windowStart) || (a.recordId < b.recordId ? -1 : 1),
    );
    expect(await get(`/v1/log-topics/${ids.topic}/records?${range}`)).toEqual({ records: byStart, nextCursor: null });
  });

  it('explains a bad query with its position, an unknown field with the known ones', async () => {
    const bad = await stack.api(
      'GET',
      `/v1/log-topics/${ids.topic}/records?q=${encodeURIComponent('srcaddr:10.0.0.1 AND )')}`,
    );
    expect(bad).toMatchObject({ status: 400, body: { message: 'q: unexpected ")" at 21; expected a term' } });
    const unknown = await stack.api('GET', `/v1/log-topics/${ids.topic}/records?q=port:80`);
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toMatch(
      /^q: unknown field "port" at 0; known fields: version, account-id, interface-id, srcaddr/,
    );
    const page = await get(`/v1/log-topics/${ids.topic}/records?${range}&sort=bytes&limit=1`);
    expect(
      (await stack.api('GET', `/v1/log-topics/${ids.topic}/records?${range}&sort=packets&cursor=${page.nextCursor}`))
        .body.message,
    ).toContain('cursor: ');
  });
});

describe('export', () => {
  const download = async (query: string) => {
    const res = await fetch(`${stack.url}/v1/log-topics/${ids.topic}/records?${range}&${query}`, {
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    });
    expect(res.status).toBe(200);
    return { headers: res.headers, lines: (await res.text()).trimEnd().split('\n') };
  };
  const inOrder = () =>
    [...records].sort((a, b) => (b.bytes ?? 0) - (a.bytes ?? 0) || (a.recordId < b.recordId ? 1 : -1));

  it('answers the whole result as NDJSON, CSV or text attachments', async () => {
    const ndjson = await download('format=ndjson&sort=-bytes&limit=2');
    expect(ndjson.headers.get('content-type')).toBe('application/x-ndjson');
    expect(ndjson.headers.get('content-disposition')).toBe(`attachment; filename="${ids.topic}.ndjson"`);
    expect(ndjson.headers.get('x-flowlogs-truncated')).toBeNull();
    expect(ndjson.lines.map((l) => JSON.parse(l))).toEqual(inOrder());

    const csv = await download('format=csv&sort=-bytes&q=protocol:tcp');
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const [header, ...rows] = csv.lines.map((l) => l.split(','));
    expect(header).toEqual(Object.keys(FIELD_KEYS));
    const parsed = rows.map((cells) => Object.fromEntries(header.map((f, i) => [f, cells[i]])));
    const tcp = inOrder().filter((r) => r.protocol === 6);
    expect(parsed.map((p) => p.srcaddr)).toEqual(tcp.map((r) => r.srcaddr));
    expect(parsed.map((p) => Number(p.bytes))).toEqual(tcp.map((r) => r.bytes));
    expect(parsed[0]['tcp-flags']).toBe(String(tcp[0].tcpFlags));

    const text = await download('format=text&sort=-bytes');
    expect(text.headers.get('content-disposition')).toBe(`attachment; filename="${ids.topic}.txt"`);
    expect(text.lines).toEqual(inOrder().map((r) => formatText(r)));
  });

  it('stops at 100,000 records and says so', async () => {
    const { pool } = stack.db;
    const start = base - 86_400;
    await ensureDayPartitions(pool, [start], new Set());
    await pool.query(
      `INSERT INTO flow_records (record_id, window_start, window_end, log_topic_id, flow_log_id, account_id, interface_id, log_status, bytes)
       SELECT 'bulk-' || lpad(i::text, 6, '0'), $1::bigint, $1::bigint + 60, $2, $3, $4, $5, 'OK', i
       FROM generate_series(1, 100001) AS i`,
      [start, ids.topic, ids.flowLog, ids.account, ids.eni],
    );
    try {
      const res = await fetch(
        `${stack.url}/v1/log-topics/${ids.topic}/records?from=${start}&to=${start + 60}&format=ndjson`,
        { headers: { authorization: `Bearer ${TEST_API_KEY}` } },
      );
      expect(res.headers.get('x-flowlogs-truncated')).toBe('true');
      const lines = (await res.text()).trimEnd().split('\n');
      expect(lines).toHaveLength(100_000);
      expect(JSON.parse(lines.at(-1)!).recordId).toBe('bulk-100000');
    } finally {
      await pool.query("DELETE FROM flow_records WHERE record_id LIKE 'bulk-%'");
    }
  });
});

describe('analysis', () => {
  const ok = () => records.filter((r) => r.logStatus === 'OK');
  const totals = (rs: FlowRecord[]) => ({
    bytes: rs.reduce((s, r) => s + r.bytes!, 0),
    packets: rs.reduce((s, r) => s + r.packets!, 0),
    flows: rs.length,
  });

  it('ranks keys by a metric', async () => {
    const top = await get(`/v1/log-topics/${ids.topic}/analysis/top?${range}&by=dstaddr&metric=bytes&limit=2`);
    expect(top).toEqual({
      items: [
        { key: '10.16.0.22', ...totals(ok().filter((r) => r.dstaddr === '10.16.0.22')) },
        { key: '10.16.0.40', ...totals(ok().filter((r) => r.dstaddr === '10.16.0.40')) },
      ],
      // The range holds no whole 10-minute slot: the records answer.
      source: 'records',
    });
    const byPort = await get(
      `/v1/log-topics/${ids.topic}/analysis/top?${range}&by=dstport&metric=flows&q=protocol:tcp`,
    );
    expect(byPort.items[0]).toEqual({ key: 443, ...totals(ok().filter((r) => r.dstport === 443 && r.protocol === 6)) });
    expect(
      (await get(`/v1/log-topics/${ids.topic}/analysis/top?${range}&by=action`)).items.map(
        (i: { key: string }) => i.key,
      ),
    ).toEqual(['ACCEPT', 'REJECT']);
    expect((await stack.api('GET', `/v1/log-topics/${ids.topic}/analysis/top?by=tos`)).status).toBe(400);
  });

  it('buckets by window start, empty buckets as zeros', async () => {
    const body = await get(
      `/v1/log-topics/${ids.topic}/analysis/histogram?from=${base}&to=${base + 4 * INTERVAL}&step=${INTERVAL}`,
    );
    expect(body.step).toBe(INTERVAL);
    expect(body.buckets).toEqual(
      [0, 1, 2, 3].map((i) => ({
        start: base + i * INTERVAL,
        ...totals(ok().filter((r) => r.windowStart === base + i * INTERVAL)),
      })),
    );
    expect(
      (await get(`/v1/log-topics/${ids.topic}/analysis/histogram?from=${base}&to=${base + 3600}&buckets=60`)).buckets,
    ).toHaveLength(60);
  });

  it('totals per action', async () => {
    expect(await get(`/v1/log-topics/${ids.topic}/analysis/actions?${range}`)).toEqual({
      ACCEPT: totals(ok().filter((r) => r.action === 'ACCEPT')),
      REJECT: totals(ok().filter((r) => r.action === 'REJECT')),
    });
  });
});

describe('live tail', () => {
  it('streams the records published from now on that match q', async () => {
    const controller = new AbortController();
    const res = await fetch(
      `${stack.url}/v1/log-topics/${ids.topic}/tail?q=${encodeURIComponent('dstport:443 action:accept')}`,
      {
        headers: { authorization: `Bearer ${TEST_API_KEY}` },
        signal: controller.signal,
      },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const now = Math.floor(Date.now() / 1000 / INTERVAL) * INTERVAL;
    const rejected = record(now, { action: 'REJECT' });
    const wanted = record(now, { srcport: 51_000 });
    const producer = createKafka(kafkaBrokers(), 'tail-test', stack.log).producer();
    await producer.connect();
    await producer.send({
      topic: ids.kafkaTopic,
      messages: [rejected, wanted].map((r) => ({ key: r.recordId, value: JSON.stringify(r) })),
    });
    await producer.disconnect();

    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: record')) text += new TextDecoder().decode((await reader.read()).value);
    while (!text.slice(text.indexOf('event: record')).includes('\n\n'))
      text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    expect(text).toMatch(/^: tailing /);
    const events = text.split('\n\n').filter((e) => e.startsWith('event: record'));
    expect(events.map((e) => JSON.parse(e.split('\ndata: ')[1]))).toEqual([wanted]);
  });

  it('needs a JSON log topic', async () => {
    expect(await stack.api('GET', `/v1/log-topics/${ids.textTopic}/tail`)).toMatchObject({
      status: 400,
      body: { message: expect.stringContaining('live tail needs a JSON log topic') },
    });
  });
});

describe('health', () => {
  it("reports a flow log's freshness and losses", async () => {
    const body = await get(`/v1/flow-logs/${ids.flowLog}/health`);
    const now = Date.now() / 1000;
    expect(body).toEqual({
      lastRecordAt: base + 3 * INTERVAL,
      recordsPerMinute: records.filter((r) => r.windowEnd > now - 600).length / 10,
      skipdata: { records: 1, packets: 17 },
      nodata: 1,
    });
  });

  it('reports the lag of the pipeline consumer groups', async () => {
    const body = await get('/v1/pipeline/health');
    expect(body.consumerGroups).toEqual([
      { group: `${stack.prefix}.aggregator`, topic: `${stack.prefix}.packets`, lag: expect.any(Number) },
      { group: `${stack.prefix}.publisher`, topic: `${stack.prefix}.records`, lag: expect.any(Number) },
    ]);
  });
});

describe('account isolation', () => {
  it("answers 404 for another account's log topic or flow log on every route", async () => {
    const paths = [
      `/v1/log-topics/${ids.topic}/records`,
      `/v1/log-topics/${ids.topic}/records?format=csv`,
      `/v1/log-topics/${ids.topic}/analysis/top?by=srcaddr`,
      `/v1/log-topics/${ids.topic}/analysis/histogram`,
      `/v1/log-topics/${ids.topic}/analysis/actions`,
      `/v1/log-topics/${ids.topic}/tail`,
      `/v1/flow-logs/${ids.flowLog}/health`,
    ];
    for (const path of paths)
      expect(await stack.api('GET', path, undefined, OTHER_KEY), path).toMatchObject({
        status: 404,
        body: { error: 'Not Found' },
      });
  });
});
