import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { anyAddress, hostPort, parseHostPort, unmapped } from './host-port.js';

describe('hostPort', () => {
  it.each([
    ['fd00::1', '[fd00::1]:4143'],
    ['::1', '[::1]:4143'],
    ['10.0.0.1', '10.0.0.1:4143'],
    ['gw.example.com', 'gw.example.com:4143'],
  ])('%s', (host, expected) => {
    expect(hostPort(host, 4143)).toBe(expected);
    expect(parseHostPort(expected)).toEqual({ host, port: 4143 });
  });
});

describe('parseHostPort', () => {
  it.each([
    ['127.0.2.1:4143', { host: '127.0.2.1', port: 4143 }],
    ['gw.west.example:443', { host: 'gw.west.example', port: 443 }],
    ['[fd00::1]:4143', { host: 'fd00::1', port: 4143 }],
    ['fd00::1:4143', null],
    ['127.0.2.1', null],
    ['127.0.2.1:0', null],
    ['127.0.2.1:70000', null],
    [':4143', null],
  ])('%s', (input, expected) => {
    expect(parseHostPort(input)).toEqual(expected);
  });
});

describe('unmapped', () => {
  it.each([
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['::FFFF:127.0.0.1', '127.0.0.1'],
    ['fd00::1', 'fd00::1'],
    ['10.1.2.3', '10.1.2.3'],
  ])('%s', (address, expected) => expect(unmapped(address)).toBe(expected));
});

describe('anyAddress', () => {
  it('is a dual-stack listener on this machine: one socket takes IPv4 and IPv6 connections', async () => {
    expect(anyAddress()).toBe('::');
    const server = net.createServer((s) => s.end(unmapped(s.remoteAddress ?? '')));
    await new Promise<void>((resolve) => server.listen(0, anyAddress(), resolve));
    const { port } = server.address() as net.AddressInfo;
    const peerSeen = (host: string) =>
      new Promise<string>((resolve, reject) => {
        let text = '';
        net
          .connect({ host, port })
          .setEncoding('utf8')
          .on('data', (d: string) => {
            text += d;
          })
          .on('end', () => resolve(text))
          .on('error', reject);
      });
    try {
      expect(await peerSeen('127.0.0.1')).toBe('127.0.0.1');
      expect(await peerSeen('::1')).toBe('::1');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
