import { describe, expect, it } from 'vitest';
import { hostPort, parseHostPort } from './host-port.js';

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
