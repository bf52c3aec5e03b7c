// `node --import <this file> …`: registers a load hook that reports, on stderr, every
// @kubernetes/client-node module the process loads (client-node-slim.test.ts reads the lines).
import { register } from 'node:module';

register('./record-client-node-loads-hooks.mjs', import.meta.url);
