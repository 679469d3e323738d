import { describe, it, expect } from 'vitest';
import {
  buildIpDiscoveryRequest,
  buildIpDiscoveryResponse,
  parseIpDiscoveryRequest,
  parseIpDiscoveryResponse,
} from '../../src/media/ip-discovery.js';
import { isVoxcordError } from '../../src/errors.js';
import { hexBuffer as hex } from '../support/bytes.js';
import { caught } from '../support/errors.js';

// media.md §2 examples
const REQUEST = hex('0001 0046 00000001' + '00'.repeat(64) + '0000');
const RESPONSE = hex('0002 0046 00000001 3230332e302e3131332e3700' + '00'.repeat(52) + 'c350');

describe('IP discovery', () => {
  it('builds the media.md request example', () => {
    expect(buildIpDiscoveryRequest(1).equals(REQUEST)).toBe(true);
    expect(buildIpDiscoveryRequest(0xdeadbeef).subarray(4, 8).toString('hex')).toBe('deadbeef');
  });

  it('builds and parses the media.md response example', () => {
    expect(RESPONSE.length).toBe(74);
    expect(buildIpDiscoveryResponse(1, '203.0.113.7', 50000).equals(RESPONSE)).toBe(true);
    expect(parseIpDiscoveryResponse(RESPONSE)).toEqual({ ssrc: 1, address: '203.0.113.7', port: 50000 });
  });

  it('round-trips the longest IPv4 and unwraps IPv4-mapped IPv6', () => {
    const r = buildIpDiscoveryResponse(0xffffffff, '255.255.255.255', 65535);
    expect(parseIpDiscoveryResponse(r)).toEqual({
      ssrc: 0xffffffff,
      address: '255.255.255.255',
      port: 65535,
    });
    const m = buildIpDiscoveryResponse(9, '::ffff:127.0.0.1', 1234);
    expect(parseIpDiscoveryResponse(m)).toEqual({ ssrc: 9, address: '127.0.0.1', port: 1234 });
  });

  it('parses requests for the SFU and rejects other datagrams', () => {
    expect(parseIpDiscoveryRequest(REQUEST)).toEqual({ ssrc: 1 });
    expect(parseIpDiscoveryRequest(buildIpDiscoveryRequest(0x80000000))).toEqual({ ssrc: 0x80000000 });
    expect(parseIpDiscoveryRequest(RESPONSE)).toBeNull();
    expect(parseIpDiscoveryRequest(REQUEST.subarray(0, 73))).toBeNull();
    expect(parseIpDiscoveryRequest(Buffer.concat([REQUEST, Buffer.alloc(1)]))).toBeNull();
    expect(parseIpDiscoveryRequest(new Uint8Array(0))).toBeNull();
  });

  it('rejects bad responses without throwing', () => {
    const withAddress = (text: string): Buffer => {
      const b = Buffer.from(RESPONSE);
      b.fill(0, 8, 72);
      b.write(text, 8, 'latin1');
      return b;
    };
    expect(parseIpDiscoveryResponse(REQUEST)).toBeNull(); // type 1
    expect(parseIpDiscoveryResponse(RESPONSE.subarray(0, 73))).toBeNull();
    expect(parseIpDiscoveryResponse(Buffer.concat([RESPONSE, Buffer.alloc(1)]))).toBeNull();
    expect(parseIpDiscoveryResponse(new Uint8Array(0))).toBeNull();
    expect(parseIpDiscoveryResponse(withAddress('not an ip'))).toBeNull();
    expect(parseIpDiscoveryResponse(withAddress('2001:db8::1'))).toBeNull();
    expect(parseIpDiscoveryResponse(withAddress('256.1.1.1'))).toBeNull();
    expect(parseIpDiscoveryResponse(withAddress(''))).toBeNull();
    // 64 non-NUL address bytes: no terminator inside the field.
    expect(parseIpDiscoveryResponse(withAddress('1'.repeat(64)))).toBeNull();
    const typeHigh = Buffer.from(RESPONSE);
    typeHigh[0] = 1; // type 0x0102
    expect(parseIpDiscoveryResponse(typeHigh)).toBeNull();
    const garbage = Buffer.alloc(74, 0xff);
    expect(parseIpDiscoveryResponse(garbage)).toBeNull();
  });

  it('refuses to build invalid datagrams with INVALID_ARGUMENT', () => {
    for (const fn of [
      () => buildIpDiscoveryRequest(-1),
      () => buildIpDiscoveryRequest(2 ** 32),
      () => buildIpDiscoveryRequest(1.5),
      () => buildIpDiscoveryResponse(1, '::1', 1),
      () => buildIpDiscoveryResponse(1, 'example.com', 1),
      () => buildIpDiscoveryResponse(1, '127.0.0.1', 65536),
      () => buildIpDiscoveryResponse(1, '127.0.0.1', -1),
    ]) {
      expect(isVoxcordError(caught(fn), 'INVALID_ARGUMENT')).toBe(true);
    }
  });
});
