import { describe, expect, it } from 'vitest';
import { type ConnectionLimits, connectionRefusal } from './connection-guard.js';

describe('connectionRefusal', () => {
  const limits: ConnectionLimits = { maxConnections: 10, maxPerAddress: 3, maxHandshakes: 5 };
  it.each([
    [{ open: 0, fromAddress: 0, handshaking: 0 }, undefined],
    [{ open: 9, fromAddress: 2, handshaking: 4 }, undefined],
    [{ open: 10, fromAddress: 0, handshaking: 0 }, 'connections'],
    [{ open: 10, fromAddress: 3, handshaking: 5 }, 'connections'],
    [{ open: 5, fromAddress: 3, handshaking: 0 }, 'per_address'],
    [{ open: 5, fromAddress: 3, handshaking: 5 }, 'per_address'],
    [{ open: 5, fromAddress: 0, handshaking: 5 }, 'handshakes'],
  ] as const)('%o → %s', (load, refusal) => {
    expect(connectionRefusal(load, limits)).toBe(refusal);
  });

  it('bounds no handshakes on a plaintext server', () => {
    const plain = { maxConnections: 10, maxPerAddress: 3 };
    expect(connectionRefusal({ open: 5, fromAddress: 0, handshaking: 1000 }, plain)).toBeUndefined();
  });
});
