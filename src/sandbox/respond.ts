/**
 * Writing answers: a body (JSON, or text for the health paths) or a failure as a JSON `Status`.
 * Shared by the request router and the handlers that own their response (watches, pod proxy, logs).
 */
import type http from 'node:http';
import { ApiError, internalError } from './api-status.js';

export function send(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'Cache-Control': 'no-cache, private',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: http.ServerResponse, err: unknown): void {
  const e = err instanceof ApiError ? err : internalError(err instanceof Error ? err.message : String(err));
  const headers: Record<string, string> = {};
  if (e.details?.retryAfterSeconds) headers['Retry-After'] = String(e.details.retryAfterSeconds);
  send(res, e.code, e.toStatus(), headers);
}
