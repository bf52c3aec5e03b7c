import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerCommands } from './index.js';

describe('isthmus upgrade --help', () => {
  const program = new Command('isthmus');
  registerCommands(program);
  const upgrade = program.commands.find((c) => c.name() === 'upgrade')!;

  it('gives every install default as the fallback of the recorded value, also those written in the description', () => {
    const described = new Map(
      upgrade.options.map((o) => [o.long, `${o.description} ${o.defaultValueDescription ?? ''}`]),
    );
    for (const flag of [
      '--gateway-replicas',
      '--gateway-service-type',
      '--egress-port-range',
      '--log-level',
    ]) {
      const text = described.get(flag);
      if (text === undefined || !text.includes('default')) continue;
      expect(text, flag).toContain('the recorded value, else');
    }
    expect(described.get('--gateway-service-type')).toContain(
      '(default: the recorded value, else "LoadBalancer")',
    );
    expect(described.get('--egress-port-range')).toContain(
      '(default: the recorded value, else "20000-29999")',
    );
    expect(described.get('--gateway-replicas')).toContain(
      '(default: the recorded value, else 1, or 2 with --ha)',
    );
  });

  it('leaves install --help as it was', () => {
    const install = program.commands.find((c) => c.name() === 'install')!;
    const type = install.options.find((o) => o.long === '--gateway-service-type')!;
    expect(type.description).toMatch(/\(default: "LoadBalancer"\)$/);
  });
});
