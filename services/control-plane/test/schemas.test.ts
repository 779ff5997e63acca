import { describe, expect, it } from 'vitest';
import { HttpError, validate } from '../src/errors.js';
import { CreateFlowLog, CreateLogTopic, CreateSubnet, CreateVpc } from '../src/schemas.js';

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
    expect(validate(CreateLogTopic, { logsetId: 'logset-1', name: 't' })).toEqual({ logsetId: 'logset-1', name: 't', format: 'json' });
    expect(validate(CreateFlowLog, { name: 'f', resourceType: 'VPC', resourceId: 'vpc-1', trafficType: 'ALL', logTopicId: 'topic-1' }))
      .toMatchObject({ aggregationInterval: 600, tags: [] });
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
    expect(rejection(() => validate(CreateSubnet, { vpcId: 'vpc-1', name: 's', cidrBlock: '10.0.0.0' })).message).toMatch(/^cidrBlock: expected a CIDR block/);
    expect(rejection(() => validate(CreateVpc, undefined)).issues?.[0].path).toBe('body');
  });

  it('want a resource id of the resource type, and a known interval', () => {
    const body = { name: 'f', resourceType: 'NETWORKINTERFACE', resourceId: 'vpc-1', trafficType: 'ALL', logTopicId: 'topic-1', aggregationInterval: 7 };
    expect(rejection(() => validate(CreateFlowLog, body)).issues).toEqual([
      { path: 'aggregationInterval', message: 'expected one of 5, 10, 30, 60, 300, 600 (seconds)' },
      { path: 'resourceId', message: 'a NETWORKINTERFACE id starts with "eni-"' },
    ]);
  });
});
