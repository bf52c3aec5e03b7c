#!/usr/bin/env node
// Entry point of the `isthmus` command. In a source checkout it runs the TypeScript through tsx, so
// `npm ci` is all a developer needs and a stale dist/ can never shadow the code being tested; an
// installed image (dist/ without src/) runs the compiled JavaScript. ISTHMUS_USE_DIST=1 forces dist/.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'cli', 'main.ts');
const built = join(root, 'dist', 'cli', 'main.js');
if (existsSync(source) && !process.env.ISTHMUS_USE_DIST) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(source).href);
} else {
  await import(pathToFileURL(built).href);
}
