// 14: kill -9 during a stream of concurrent writes (API key creates) on SQLite; after a
// restart every acknowledged (201) key is there, and PRAGMA integrity_check says ok (on a
// copy taken right after the crash and on the database after the restart).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./lib/harness');

const TARGET = 2000; // creates attempted at most
const KILL_AFTER = 800; // acknowledged creates before kill -9
const WORKERS = 32;

let srv, t, copyDir;
before(async () => {
	srv = await h.startServer({
		tag: 'crash',
		env: {
			IRISX_RATELIMIT_KEY_RPS: '1000000',
			IRISX_RATELIMIT_KEY_BURST: '1000000',
			IRISX_RATELIMIT_TENANT_RPS: '1000000',
			IRISX_RATELIMIT_TENANT_BURST: '1000000',
		},
	});
	t = await h.registerTenant(srv, { tag: 'crash' });
	copyDir = h.tmpDir('crash-copy');
});
after(async () => {
	if (srv)
		await srv.cleanup();
	h.rmDir(copyDir);
});

test('kill -9 mid-stream loses no acknowledged write', { timeout: 180000 }, async () => {
	const acked = new Map(); // id -> name
	const sent = new Set();
	let next = 0,
		killed = false,
		killAt = 0,
		errors = 0,
		fiveXX = 0;
	const pid = srv.pid;

	const worker = async () => {
		while (next < TARGET) {
			const i = next++;
			const name = `crash-${i}`;
			sent.add(name);
			try {
				const r = await srv.req('POST', '/v1/api-keys', { token: t.token, json: { name, role: 'viewer' }, timeout: 10000 });
				if (r.status === 201) {
					acked.set(r.body.id, name);
					if (!killed && acked.size >= KILL_AFTER) {
						killed = true;
						killAt = Date.now();
						process.kill(pid, 'SIGKILL'); // in flight: up to WORKERS-1 other requests
					}
				} else if (r.status >= 500) {
					fiveXX++;
				}
			} catch {
				errors++;
				if (killed)
					return; // the server is gone
			}
		}
	};
	await Promise.all(Array.from({ length: WORKERS }, worker));
	assert.ok(killed, `the stream ended before the kill (${acked.size} acked)`);
	await srv.kill9(); // reap
	assert.equal(fiveXX, 0, `${fiveXX} 5xx answers before the crash`);

	// a copy of the crashed files: integrity as found, before anything recovers them
	for (const f of fs.readdirSync(srv.dataDir))
		if (f.startsWith('irisx.db'))
			fs.copyFileSync(path.join(srv.dataDir, f), path.join(copyDir, f));
	const copy = path.join(copyDir, 'irisx.db');
	assert.equal(h.sqlite(copy, 'PRAGMA integrity_check', { readonly: false }), 'ok', 'integrity of the crashed database');
	const rows = +h.sqlite(copy, `SELECT count(*) FROM api_keys WHERE name LIKE 'crash-%'`, { readonly: false });
	assert.ok(rows >= acked.size, `crashed copy has ${rows} rows, ${acked.size} were acknowledged`);

	await srv.start();
	const missing = [];
	await h.pool([...acked.keys()], 16, async (id) => {
		const r = await srv.req('GET', `/v1/api-keys/${id}`, { token: t.token });
		if (r.status !== 200 || r.body.name !== acked.get(id))
			missing.push(`${id} (${acked.get(id)}): ${r.status}`);
	});
	assert.deepEqual(missing, [], `${missing.length} of ${acked.size} acknowledged keys lost:\n${missing.slice(0, 20).join('\n')}`);

	const listed = await h.listAll(srv, '/v1/api-keys', { token: t.token });
	const names = listed.filter((k) => k.name.startsWith('crash-')).map((k) => k.name);
	assert.equal(new Set(names).size, names.length, 'a create was stored twice');
	assert.ok(names.length >= acked.size && names.length <= sent.size, `listed ${names.length}, acked ${acked.size}, sent ${sent.size}`);
	// the server keeps working after recovery
	const k = await h.createKey(srv, t.token, { name: 'after-crash' });
	h.expectStatus(await srv.req('GET', '/v1/tenant', { token: k.secret }), 200);

	await srv.stop();
	assert.equal(h.sqlite(srv.dbPath, 'PRAGMA integrity_check'), 'ok', 'integrity after restart');
	const mode = h.sqlite(srv.dbPath, 'PRAGMA journal_mode');
	assert.equal(mode, 'wal', `journal_mode ${mode}`);
	console.log(`# crash: acked=${acked.size} sent=${sent.size} stored=${names.length} in-flight-lost-unacked=${sent.size - names.length} client-errors=${errors} kill-at=${new Date(killAt).toISOString()}`);
});
