/**
 * `node --import tsx bench/profile-summary.ts <file.cpuprofile>…`: the hot spots of each profile
 * written by `npm run bench:gateway -- --profile`.
 */
import { summariseProfileFile } from './lib/profile.js';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: bench/profile-summary.ts <file.cpuprofile>…');
  process.exitCode = 2;
}
for (const file of files) console.log(`${await summariseProfileFile(file, Number(process.env.TOP ?? 25))}\n`);
