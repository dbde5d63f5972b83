// run.js: runs the end-to-end files with node --test (explicit file list: Node 20 has no
// glob); `node run.js 04 12` runs only the files whose names contain 04 or 12.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { BIN } = require('./lib/harness');

const all = fs
	.readdirSync(__dirname)
	.filter((f) => f.endsWith('.test.js'))
	.sort();
const want = process.argv.slice(2);
const files = want.length ? all.filter((f) => want.some((w) => f.includes(w))) : all;
if (!files.length) {
	console.error(`no test file matches ${want.join(' ')}`);
	process.exit(2);
}
if (!fs.existsSync(BIN)) {
	console.error(`e2e: irisx binary not found at ${BIN}; build it or set IRISX_BIN`);
	process.exit(1);
}
// The servers mostly wait on fsync and sockets, so a few files at once fit on 2 cores.
const conc = process.env.IRISX_E2E_CONCURRENCY || '4';
const args = ['--test', '--test-reporter=spec', `--test-concurrency=${conc}`, ...files];
const child = spawn(process.execPath, args, { cwd: __dirname, stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM'])
	process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code === null ? 1 : code));
