// 30-smpp-client: the C SMPP client (tests/messaging/smpp_drive) against the npm `smpp` SMSC
// (lib/smsc.js) on 127.0.0.1: submit + receipt + MO, receipts before the submit_sm_resp,
// throttling, a bind dropped mid-run (nothing lost, duplicates counted), garbage PDUs nacked.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { spawn } = require('node:child_process');
const { startSmsc } = require('./lib/smsc');

const BIN = process.env.IRISX_BIN || path.join(__dirname, '..', '..', 'build', 'irisx');
const DRIVE = process.env.IRISX_SMPP_DRIVE || path.join(path.dirname(BIN), 'tests', 'messaging', 'smpp_drive');

// Runs smpp_drive; resolves with its JSON lines once it exits (killed after limitMs).
function drive(args, onLine = () => {}, limitMs = 30000) {
	if (!fs.existsSync(DRIVE))
		throw new Error(`smpp_drive not found at ${DRIVE} (build it or set IRISX_SMPP_DRIVE)`);
	return new Promise((resolve, reject) => {
		const child = spawn(DRIVE, args, { stdio: ['ignore', 'pipe', 'pipe'] });
		const lines = [];
		let err = '';
		child.stderr.on('data', (d) => { err += d; });
		readline.createInterface({ input: child.stdout }).on('line', (l) => {
			const e = JSON.parse(l);
			lines.push(e);
			onLine(e);
		});
		const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
		child.on('close', (code, sig) => {
			clearTimeout(timer);
			if (sig) return reject(new Error(`smpp_drive killed (${sig}):\n${JSON.stringify(lines.slice(-20))}\n${err}`));
			resolve({ code, lines, err, stats: lines.find((e) => e.event === 'stats') });
		});
	});
}

async function withSmsc(opts, fn) {
	const smsc = await startSmsc(opts);
	try {
		return await fn(smsc);
	} finally {
		await smsc.stop();
	}
}

const hex = (s) => Buffer.from(s).toString('hex');
const submits = (smsc) => smsc.events.filter((e) => e.event === 'submit_sm');

test('submit, delivery receipt and MO round trip', async () => {
	await withSmsc({ receipt: 'after' }, async (smsc) => {
		const r = await drive(['--port', smsc.port, '--n', '5', '--window', '2', '--receipts', '5', '--mos', '1'], (e) => {
			if (e.event === 'bound' && e.up) smsc.command('mo 15550009999 12345 hello MO');
		});
		assert.equal(r.code, 0, r.err);
		const got = r.lines.filter((e) => e.event === 'submitted');
		assert.equal(got.length, 5);
		assert.ok(got.every((e) => e.status === 0 && /^m[0-9a-f]{8}$/.test(e.message_id)));
		// what the SMSC received, field by field
		const seen = submits(smsc);
		assert.equal(seen.length, 5);
		for (let i = 0; i < 5; i++) {
			const s = seen.find((x) => x.short_message === hex(`m${i}`));
			assert.ok(s, `m${i} reached the SMSC`);
			assert.equal(s.source_addr, '12345');
			assert.equal(s.destination_addr, '15550001111');
			assert.equal(s.data_coding, 0);
			assert.equal(s.registered_delivery, 1);
			assert.equal(got.find((e) => e.i === i).message_id, s.message_id);
		}
		// one receipt per message, matched by id, parsed from text and TLVs
		const receipts = r.lines.filter((e) => e.event === 'deliver' && e.receipt);
		assert.deepEqual(receipts.map((e) => e.id).sort(), got.map((e) => e.message_id).sort());
		assert.ok(receipts.every((e) => e.stat === 'DELIVRD' && e.err === '000' && e.esm_class === 4));
		const mo = r.lines.filter((e) => e.event === 'deliver' && !e.receipt);
		assert.equal(mo.length, 1);
		assert.equal(mo[0].source_addr, '15550009999');
		assert.equal(mo[0].destination_addr, '12345');
		assert.equal(Buffer.from(mo[0].short_message, 'hex').toString(), 'hello MO');
		// every deliver_sm acknowledged with ESME_ROK, then a clean unbind
		await smsc.waitFor((e) => e.event === 'unbind', 5000);
		const resps = smsc.events.filter((e) => e.event === 'deliver_sm_resp');
		assert.equal(resps.length, 6);
		assert.ok(resps.every((e) => e.status === 0));
		assert.equal(r.stats.rebinds, 0);
	});
});

test('receipts that arrive before the submit_sm_resp are delivered too', async () => {
	await withSmsc({ receipt: 'before' }, async (smsc) => {
		const r = await drive(['--port', smsc.port, '--n', '20', '--window', '10', '--receipts', '20']);
		assert.equal(r.code, 0, r.err);
		const ids = r.lines.filter((e) => e.event === 'submitted' && e.status === 0).map((e) => e.message_id);
		const receipts = r.lines.filter((e) => e.event === 'deliver' && e.receipt).map((e) => e.id);
		assert.equal(ids.length, 20);
		assert.deepEqual(receipts.sort(), ids.sort());
		// the SMSC sent each receipt first: the driver saw receipt lines before some results
		const first = r.lines.findIndex((e) => e.event === 'deliver');
		const firstResult = r.lines.findIndex((e) => e.event === 'submitted');
		assert.ok(first < firstResult, 'a receipt came before its submit_sm_resp');
	});
});

test('ESME_RTHROTTLED: the client backs off and resends, nothing reported as failed', async () => {
	await withSmsc({ throttleFirst: 5, receipt: 'none' }, async (smsc) => {
		const t0 = Date.now();
		const r = await drive(['--port', smsc.port, '--n', '20', '--window', '5']);
		assert.equal(r.code, 0, r.err);
		const got = r.lines.filter((e) => e.event === 'submitted');
		assert.equal(got.length, 20);
		assert.ok(got.every((e) => e.status === 0));
		assert.equal(new Set(got.map((e) => e.i)).size, 20);
		assert.equal(r.stats.throttled, 5);
		const seen = submits(smsc);
		assert.equal(seen.filter((e) => e.throttled).length, 5);
		assert.equal(seen.length, 25);
		assert.ok(Date.now() - t0 >= 100, 'backed off at least 100 ms');
	});
});

test('the bind is dropped mid-run: rebind, the window is resent, no message lost', async (t) => {
	await withSmsc({ dropAfter: 30, receipt: 'none' }, async (smsc) => {
		const r = await drive(['--port', smsc.port, '--n', '100', '--window', '10']);
		assert.equal(r.code, 0, r.err);
		const ok = r.lines.filter((e) => e.event === 'submitted' && e.status === 0);
		assert.equal(ok.length, 100, 'one ESME_ROK per message');
		assert.equal(new Set(ok.map((e) => e.i)).size, 100);
		assert.equal(r.stats.rebinds, 1);
		assert.equal(smsc.events.filter((e) => e.event === 'bind').length, 2);
		const seen = submits(smsc);
		const unique = new Set(seen.map((e) => e.short_message));
		assert.equal(unique.size, 100, 'the SMSC received every message');
		const duplicates = seen.length - unique.size;
		// the submit that was dropped unanswered is sent again; others in the window may be too
		assert.ok(duplicates >= 1 && duplicates <= 10, `duplicates ${duplicates}`);
		t.diagnostic(`dropped bind: ${seen.length} submit_sm for 100 messages, ${duplicates} duplicates, resent ${r.stats.resent}`);
	});
});

test('garbage PDUs from the SMSC get generic_nack and the bind survives', async () => {
	await withSmsc({ garbageAfterBind: true, receipt: 'none' }, async (smsc) => {
		// a second round mid-bind, then an MO the driver waits for (so it sees the garbage first)
		const r = await drive(['--port', smsc.port, '--n', '5', '--window', '5', '--mos', '1'], (e) => {
			if (e.event === 'bound' && e.up) {
				smsc.command('garbage');
				smsc.command('mo 15550009999 12345 after garbage');
			}
		});
		assert.equal(r.code, 0, r.err);
		assert.equal(r.lines.filter((e) => e.event === 'submitted' && e.status === 0).length, 5);
		await smsc.waitFor((e) => e.event === 'unbind', 5000);
		const nacks = smsc.events.filter((e) => e.event === 'generic_nack');
		assert.equal(nacks.length, 4);
		assert.deepEqual(nacks.map((e) => [e.seq, e.status]),
			[[0x77, 3], [0x78, 2], [0x77, 3], [0x78, 2]]); // ESME_RINVCMDID, ESME_RINVCMDLEN
		assert.equal(smsc.events.filter((e) => e.event === 'bind').length, 1);
		assert.equal(r.stats.generic_nacks, 4);
		assert.equal(r.stats.rebinds, 0);
	});
});
