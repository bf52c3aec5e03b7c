/**
 * The API server's clock, from the `Date` header of a cheap request (RFC 9110 §6.6.1). Lease
 * times are written by the leader's clock, which in a cluster runs with the API server's; a
 * laptop's clock may not, and 15 s of skew would make every Lease look expired.
 */
import type { KubeClient } from './client.js';

/** The server's time (1 s resolution), or undefined when it sends no usable Date. */
export async function serverTime(client: KubeClient): Promise<Date | undefined> {
  const { headers } = await client.request('get', 'GET', '/version');
  const raw = headers.date;
  const text = Array.isArray(raw) ? raw[0] : raw;
  const at = text ? new Date(text) : undefined;
  return at && !Number.isNaN(at.getTime()) ? at : undefined;
}
