// `ISTHMUS_RECORD_LOADS_FILE=F node --import <this file> …`: registers a load hook that appends to
// F every @kubernetes/client-node module the process loads (client-node-slim.test.ts reads it).
import { register } from 'node:module';

register('./record-client-node-loads-hooks.mjs', import.meta.url);
