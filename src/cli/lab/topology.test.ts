import { describe, expect, it } from 'vitest';
import { labTopology } from './topology.js';

describe('labTopology', () => {
  // Every process of both clusters runs on this one host: two listeners on one address and port
  // would crash-loop the second process (EADDRINUSE), as identity's default admin `:9991` would.
  it('gives every listener of both clusters an address and port of its own, identity admin included', () => {
    const listeners = labTopology(60).flatMap((c) => [
      `${c.api.host}:${c.api.port}`,
      `${c.gateway.host}:${c.gateway.ingressPort}`,
      `${c.gateway.host}:${c.gateway.adminPort}`,
      `${c.identity.host}:${c.identity.port}`,
      `${c.identity.host}:${c.identity.healthPort}`,
      `${c.identity.host}:${c.identity.adminPort}`,
      `${c.controller.host}:${c.controller.adminPort}`,
      `${c.frontend.host}:${c.frontend.port}`,
    ]);
    expect(new Set(listeners).size).toBe(listeners.length);
    const [east] = labTopology(60);
    expect(`${east!.identity.host}:${east!.identity.adminPort}`).toBe('127.0.60.3:9991');
  });
});
