import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { GATEWAY_ENV } from '../../gateway/config.js';
import { registerCommands } from './index.js';

describe('isthmus gateway flags', () => {
  it('has a flag for every setting its configuration reads (commander refuses the rest)', () => {
    const program = new Command('isthmus');
    registerCommands(program);
    const gateway = program.commands.find((c) => c.name() === 'gateway')!;
    const attributes = new Set(gateway.options.map((o) => o.attributeName()));
    const missing = Object.keys(GATEWAY_ENV).filter((key) => !attributes.has(key));
    expect(missing).toEqual([]);
  });
});
