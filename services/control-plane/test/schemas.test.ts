import { describe, expect, it } from 'vitest';
import { HttpError, validate } from '../src/errors.js';
import { formatRecord } from '@flowlogs/contracts';
import { makeRecord } from '@flowlogs/testkit';
import { CreateFlowLog, CreateLogTopic, CreateSubnet, CreateVpc, ModifyLogTopic } from '../src/schemas.js';

function rejection(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
  throw new Error('expected a 400');
}

describe('create bodies', () => {
  it('apply defaults', () => {
    expect(validate(CreateLogTopic, { logsetId: 'logset-1', name: 't' })).toEqual({
      logsetId: 'logset-1',
      name: 't',
      format: 'json',
    });
    expect(
      validate(CreateFlowLog, {
        name: 'f',
        resourceType: 'VPC',
        resourceId: 'vpc-1',
        trafficType: 'ALL',
        logTopicId: 'topic-1',
      }),
    ).toMatchObject({ aggregationInterval: 600, tags: [] });
  });

  it('explain every bad field in one 400', () => {
    const err = rejection(() => validate(CreateVpc, { cidrBlock: '10.0.0.1/16', colour: 'red' }));
    expect(err.statusCode).toBe(400);
    expect(err.issues).toEqual([
      { path: 'name', message: expect.any(String) },
      { path: 'cidrBlock', message: 'host bits are set beyond /16: give the network address' },
      { path: 'body', message: expect.stringContaining('colour') },
    ]);
    expect(err.message).toMatch(/^name: .*; cidrBlock: host bits .*; body: /);
  });

  it('refuse something that is not a CIDR, and a missing body', () => {
    expect(
      rejection(() => validate(CreateSubnet, { vpcId: 'vpc-1', name: 's', cidrBlock: '10.0.0.0' })).message,
    ).toMatch(/^cidrBlock: expected a CIDR block/);
    expect(rejection(() => validate(CreateVpc, undefined)).issues?.[0].path).toBe('body');
  });

  it('want a resource id of the resource type, and a known interval', () => {
    const body = {
      name: 'f',
      resourceType: 'NETWORKINTERFACE',
      resourceId: 'vpc-1',
      trafficType: 'ALL',
      logTopicId: 'topic-1',
      aggregationInterval: 7,
    };
    expect(rejection(() => validate(CreateFlowLog, body)).issues).toEqual([
      { path: 'aggregationInterval', message: 'expected one of 5, 10, 30, 60, 300, 600 (seconds)' },
      { path: 'resourceId', message: 'a NETWORKINTERFACE id starts with "eni-"' },
    ]);
  });
});

describe('log topic formats', () => {
  const record = makeRecord({
    srcport: 443,
    dstport: 5000,
    packets: 2,
    bytes: 120,
    start: 10,
    end: 11,
    subnetId: null,
    tcpFlags: 18,
    windowStart: 0,
    windowEnd: 600,
  });

  it('take a custom list of record field names, in their order', () => {
    const body = validate(CreateLogTopic, {
      logsetId: 'logset-1',
      name: 't',
      format: { custom: ['dstaddr', 'srcaddr', 'bytes', 'subnet-id', 'tcp-flags'] },
    });
    expect(formatRecord(record, body.format)).toBe('10.0.0.2 10.0.0.1 120 - 18');
    expect(formatRecord(record, 'text')).toBe(
      '2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 5000 6 2 120 10 11 ACCEPT OK',
    );
    expect(JSON.parse(formatRecord(record, 'json'))).toEqual(record);
  });

  it('refuse unknown or repeated fields and an empty list', () => {
    expect(rejection(() => validate(ModifyLogTopic, { format: { custom: ['srcaddr', 'srcAddr'] } })).message).toMatch(
      /^format: custom\.1: Invalid option: expected one of "version"/,
    );
    expect(rejection(() => validate(ModifyLogTopic, { format: { custom: ['bytes', 'bytes'] } })).message).toBe(
      'format.custom: a field is listed twice',
    );
    expect(rejection(() => validate(ModifyLogTopic, { format: { custom: [] } })).message).toMatch(
      /^format.custom: Too small/,
    );
    expect(rejection(() => validate(ModifyLogTopic, { format: 'xml' })).message).toBe(
      'format: expected "json", "text" or {custom: [field, …]}',
    );
  });
});
