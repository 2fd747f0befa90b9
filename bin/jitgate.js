#!/usr/bin/env -S node --max-semi-space-size=4
// A proxy streams many short-lived buffers: a small young generation (semi-space 4 MB)
// keeps its peak memory bounded at little CPU cost. `node bin/jitgate.js` without the
// flag works the same, with a larger peak.
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(`jitgate: ${err?.message ?? err}`); process.exitCode = 1; },
);
