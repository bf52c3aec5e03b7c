/**
 * A peer's session ended at its certificate's notAfter (result `session_expired`) is routine, once a
 * day per session after the peer rotates: the tunnel error alert leaves it out of both sides of its
 * ratio, or a gateway with few tunnels would page daily. A refused expired handshake stays
 * `unauthorized` and counts.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { parse } from 'yaml';

const doc = parse(readFileSync('examples/prometheus/isthmus-alerts.yaml', 'utf8')) as {
  spec: { groups: { rules: { alert: string; expr: string }[] }[] };
};

// not_linked: the egress refusing a tunnel to a cluster just unlinked (clients of its mirrors until
// their listeners close), an operator's decision and no failure.
it.each(['session_expired', 'not_linked'])(
  'IsthmusTunnelErrors leaves %s out of both sides of its ratio',
  (result) => {
    const rule = doc.spec.groups.flatMap((g) => g.rules).find((r) => r.alert === 'IsthmusTunnelErrors');
    const selectors = rule?.expr.match(/isthmus_tunnel_connections_total\{[^}]*\}/g) ?? [];
    expect(selectors).toHaveLength(2);
    for (const s of selectors) expect(s).toMatch(new RegExp(`result!~"[^"]*\\b${result}\\b[^"]*"`));
  },
);
