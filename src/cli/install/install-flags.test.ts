import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addInstallFlags, givenInstallFlags, INSTALL_FLAG_KINDS, installFlagsOf } from './install-flags.js';

function parsed(...args: string[]): Command {
  const cmd = addInstallFlags(new Command('install').exitOverride(), { clusterNameRequired: true });
  return cmd.parse(args, { from: 'user' });
}

describe('install flags as recorded', () => {
  it('records what was typed: no default, no file path, a negated switch as given', () => {
    const cmd = parsed(
      '--cluster-name',
      'east',
      '--trust-anchor',
      '/home/me/ca.crt',
      '--no-gateway',
      '--toleration',
      'a:NoSchedule',
      '--toleration',
      'b:NoExecute',
      '--image',
      'registry.example/isthmus:0.1.0',
    );
    const given = givenInstallFlags(cmd);
    expect(given).toEqual({
      'cluster-name': 'east',
      'no-gateway': true,
      toleration: ['a:NoSchedule', 'b:NoExecute'],
      image: 'registry.example/isthmus:0.1.0',
    });
    expect(installFlagsOf(cmd, given)).toEqual({
      clusterName: 'east',
      gateway: false,
      toleration: ['a:NoSchedule', 'b:NoExecute'],
      image: 'registry.example/isthmus:0.1.0',
    });
  });

  it('knows the kind of every flag', () => {
    expect(INSTALL_FLAG_KINDS.get('ha')).toBe('switch');
    expect(INSTALL_FLAG_KINDS.get('no-gateway')).toBe('switch');
    expect(INSTALL_FLAG_KINDS.get('image')).toBe('value');
    expect(INSTALL_FLAG_KINDS.get('gateway-toleration')).toBe('repeatable');
    expect(INSTALL_FLAG_KINDS.has('context')).toBe(false);
  });
});
