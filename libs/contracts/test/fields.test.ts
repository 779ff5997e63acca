import { describe, expect, it } from 'vitest';
import { makeRecord } from '@flowlogs/testkit';
import { FIELD_KEYS, FIELDS, FieldName, FLOW_KEY, FlowRecord, flowKeyOf, recordIdOf } from '../src/index.js';

describe('the field table', () => {
  it("gives the record its keys in the table's order, then skippedPackets and recordId", () => {
    expect(Object.keys(FlowRecord.shape)).toEqual([...FIELDS.map((f) => f.key), 'skippedPackets', 'recordId']);
    expect(Object.keys(makeRecord())).toEqual(Object.keys(FlowRecord.shape));
  });

  it('names each field once, by a contract name and a JSON key', () => {
    expect(new Set(FIELDS.map((f) => f.name)).size).toBe(FIELDS.length);
    expect(new Set(FIELDS.map((f) => f.key)).size).toBe(FIELDS.length);
    expect(FIELD_KEYS['log-status']).toBe('logStatus');
    expect(FieldName.options).toEqual(FIELDS.map((f) => f.name));
  });

  it('makes the fields absent on NODATA/SKIPDATA nullable and the kept ones not', () => {
    const nodata = makeRecord({ logStatus: 'NODATA' });
    expect(FlowRecord.parse(nodata)).toEqual(nodata);
    for (const f of FIELDS) {
      if (f.absent === 'null') expect(nodata[f.key], f.name).toBeNull();
      else
        expect(FlowRecord.safeParse({ ...nodata, [f.key]: null }).success, f.name).toBe(
          f.schema.safeParse(null).success,
        );
    }
  });

  it("reads a field added later as null in a record made before it (an older aggregator's), in the table's key order", () => {
    const { pktSrcaddr: _s, pktDstaddr: _d, ...older } = makeRecord();
    const read = FlowRecord.parse(JSON.parse(JSON.stringify(older)));
    expect([read.pktSrcaddr, read.pktDstaddr]).toEqual([null, null]);
    expect(Object.keys(read)).toEqual(Object.keys(FlowRecord.shape));
    expect(FIELDS.filter((f) => f.addedLater).map((f) => f.name)).toEqual(['pkt-srcaddr', 'pkt-dstaddr']);
  });

  it('defines the flow key as the record contract does: interface-id, srcaddr, dstaddr, srcport, dstport, protocol, action', () => {
    expect(FLOW_KEY).toEqual(['interfaceId', 'srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol', 'action']);
    expect(flowKeyOf(makeRecord({ interfaceId: 'eni-9', srcport: 1, dstport: 2 }), '-')).toBe(
      'eni-9|10.0.0.1|10.0.0.2|1|2|6|ACCEPT',
    );
    expect(flowKeyOf(makeRecord({ interfaceId: 'eni-9', logStatus: 'NODATA' }), '-')).toBe('eni-9|-|-|-|-|-|-');
  });

  it('gives a record id that changes with each flow-key field and with no other field of the flow', () => {
    const { recordId: _, ...r } = makeRecord();
    const id = recordIdOf(r);
    for (const f of FIELDS) {
      const changed = {
        ...r,
        [f.key]: typeof r[f.key] === 'number' ? (r[f.key] as number) + 1 : `${String(r[f.key])}x`,
      };
      if (f.flowKey || ['flowLogId', 'windowStart', 'logStatus'].includes(f.key))
        expect(recordIdOf(changed), f.name).not.toBe(id);
      else expect(recordIdOf(changed), f.name).toBe(id);
    }
  });
});
