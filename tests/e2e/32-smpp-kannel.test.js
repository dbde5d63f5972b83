// 32-smpp-kannel: the C SMPP client (tests/messaging/smpp_drive) against a second, independent
// SMPP implementation: Kannel 1.4.5's test SMSC drive_smpp (lib/kannel.js says what it does),
// every PDU recorded by a tap between the two. drive_smpp takes no bind_transceiver, so the
// client binds a transmitter + receiver pair: binds, submit_sm acknowledged (with Kannel's
// empty message ids), MO deliver_sm and Kannel's enquire_link answered (sequence 0
// included), the client's own enquire_link on both binds, unbind. And the transceiver bind
// Kannel leaves unanswered: bind timeout, retried, never reported bound. And through
// `irisx serve`: a provider with "bind": "pair" sends messages through drive_smpp (each
// part filed under an id of ours, Kannel's being empty) and answers its MO.
// Skipped when drive_smpp is not installed (apt-get install kannel-extras; scripts/deps.sh).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { spawn } = require('node:child_process');
const h = require('./lib/harness');
const { BIN } = h;
const { DRIVE_SMPP, startDriveSmpp, closeBoxPort, decodeBody } = require('./lib/kannel');

const DRIVE = process.env.IRISX_SMPP_DRIVE || path.join(path.dirname(BIN), 'tests', 'messaging', 'smpp_drive');
const skip = fs.existsSync(DRIVE_SMPP) ? false : `${DRIVE_SMPP} not installed (Debian package kannel-extras)`;

// Runs smpp_drive; resolves with its JSON lines once it exits (killed after limitMs).
function drive(args, limitMs = 20000) {
	if (!fs.existsSync(DRIVE))
		throw new Error(`smpp_drive not found at ${DRIVE} (build it or set IRISX_SMPP_DRIVE)`);
	return new Promise((resolve, reject) => {
		const child = spawn(DRIVE, args, { stdio: ['ignore', 'pipe', 'pipe'] });
		const lines = [];
		let err = '';
		child.stderr.on('data', (d) => { err += d; });
		readline.createInterface({ input: child.stdout }).on('line', (l) => lines.push(JSON.parse(l)));
		const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
		child.on('close', (code, sig) => {
			clearTimeout(timer);
			if (sig) return reject(new Error(`smpp_drive killed (${sig}):\n${JSON.stringify(lines.slice(-20))}\n${err}`));
			resolve({ code, lines, err, stats: lines.find((e) => e.event === 'stats') });
		});
	});
}

// drive_smpp's exit, bounded
async function exitOf(k, ms = 5000) {
	let timer;
	const t = new Promise((r) => { timer = setTimeout(() => r(null), ms); });
	const e = await Promise.race([k.exited, t]);
	clearTimeout(timer);
	assert.ok(e, `drive_smpp still running ${ms} ms after the session:\n${k.log.slice(-3000)}`);
	return e;
}

// every request of `from` on conn answered once by the other side: same sequence, status 0
function answered(k, conn, from, req, resp) {
	const reqs = k.pdus(conn, req).filter((p) => p.from === from);
	const resps = k.pdus(conn, resp).filter((p) => p.from !== from);
	assert.deepEqual(resps.map((p) => p.seq).sort((a, b) => a - b), reqs.map((p) => p.seq).sort((a, b) => a - b),
		`${req} on connection ${conn}: one ${resp} per request, by sequence number`);
	assert.ok(resps.every((p) => p.status === 0), `${resp} all ESME_ROK`);
	return reqs;
}

test.after(() => closeBoxPort());

test('transmitter + receiver pair against Kannel drive_smpp: submits, MO, enquire_link, unbind', { skip }, async (t) => {
	const N = 100, M = 100;
	const k = await startDriveSmpp({ mos: M });
	t.after(() => k.stop());
	const r = await drive(['--port', String(k.port), '--bind', 'pair', '--n', String(N), '--window', '10',
		'--mos', String(M), '--enquire-link-s', '1', '--hold-ms', '1500']);
	assert.equal(r.code, 0, `${r.err}\n${JSON.stringify(r.lines.slice(-5))}`);
	const { code, signal } = await exitOf(k);
	assert.equal(signal, null);
	assert.equal(code, 0, k.log.slice(-3000));

	// two connections: a bind_transmitter and a bind_receiver, each accepted by drive_smpp
	// (a receiver closed by drive_smpp may try again before it is freed: never answered)
	assert.deepEqual(k.wire.filter((p) => p.from === 'smsc' && /^bind_/.test(p.name)).map((p) => p.conn).sort(), [1, 2]);
	const bindOf = (name) => k.wire.find((p) => p.from === 'esme' && p.name === name);
	const txBind = bindOf('bind_transmitter'), rxBind = bindOf('bind_receiver');
	assert.ok(txBind && rxBind, 'a bind_transmitter and a bind_receiver');
	assert.equal(k.wire.filter((p) => p.name === 'bind_transceiver').length, 0);
	const tx = txBind.conn, rx = rxBind.conn;
	assert.notEqual(tx, rx);
	for (const b of [txBind, rxBind])
		assert.deepEqual(decodeBody(b.cmd, b.body), { system_id: 'esme1', password: 'pw', system_type: '', interface_version: 0x34 });
	answered(k, tx, 'esme', 'bind_transmitter', 'bind_transmitter_resp');
	answered(k, rx, 'esme', 'bind_receiver', 'bind_receiver_resp');
	assert.deepEqual(r.lines.filter((e) => e.event === 'bound' && e.up).map((e) => e.bind).sort(), ['rx', 'tx']);

	// N submit_sm on the transmitter, each acknowledged; drive_smpp's message_id is empty, and
	// that empty id is what the client reports (it invents none)
	const subs = answered(k, tx, 'esme', 'submit_sm', 'submit_sm_resp');
	assert.equal(subs.length, N, 'no submit sent twice');
	assert.deepEqual(subs.map((p) => decodeBody(p.cmd, p.body).short_message).sort(),
		Array.from({ length: N }, (_, i) => `m${i}`).sort());
	const s0 = decodeBody(subs[0].cmd, subs[0].body);
	assert.equal(s0.source_addr, '12345');
	assert.equal(s0.destination_addr, '15550001111');
	assert.equal(s0.data_coding, 0);
	const wireIds = k.pdus(tx, 'submit_sm_resp').map((p) => decodeBody(p.cmd, p.body).id);
	assert.ok(wireIds.every((id) => id === ''), 'drive_smpp answers with an empty message_id');
	const got = r.lines.filter((e) => e.event === 'submitted');
	assert.equal(got.length, N);
	assert.equal(new Set(got.map((e) => e.i)).size, N);
	assert.ok(got.every((e) => e.bind === 'tx' && e.status === 0 && e.message_id === ''));
	assert.equal(k.pdus(rx, 'submit_sm').length, 0, 'nothing submitted on the receiver');
	// what drive_smpp itself counted and logged
	for (let i = 0; i < N; i++)
		assert.ok(k.log.includes(`submit_sm: short_message = <m${i}>`), `drive_smpp logged m${i}`);
	assert.match(k.log, new RegExp(`Number of messages sent to SMSC: ${N}\\b`));
	assert.match(k.log, /ESME has submitted all messages to SMSC\./);

	// M MO deliver_sm on the receiver (sequence numbers from 0), each answered with ESME_ROK
	const dels = answered(k, rx, 'smsc', 'deliver_sm', 'deliver_sm_resp');
	assert.equal(dels.length, M);
	assert.ok(dels.some((p) => p.seq === 0), 'Kannel numbers from 0; deliver_sm_resp echoes 0');
	assert.equal(k.pdus(tx, 'deliver_sm').length, 0, 'drive_smpp sends nothing to a transmitter');
	const mo = r.lines.filter((e) => e.event === 'deliver');
	assert.equal(mo.length, M);
	for (const e of mo) {
		const w = dels.find((p) => p.seq === e.seq);
		assert.ok(w, `deliver seq ${e.seq} is on the wire`);
		const f = decodeBody(w.cmd, w.body);
		assert.equal(e.bind, 'rx');
		assert.equal(e.receipt, false, 'esm_class 0: an MO, whatever its receipted_message_id TLV says');
		assert.equal(e.esm_class, 0);
		assert.equal(e.source_addr, f.source_addr);
		assert.equal(e.destination_addr, f.destination_addr);
		assert.equal(Buffer.from(e.short_message, 'hex').toString('latin1'), f.short_message);
	}
	assert.deepEqual(mo.map((e) => [e.source_addr, e.destination_addr]).filter(([a, b]) => a !== '456' || b !== '123'), []);
	assert.deepEqual(mo.map((e) => Number(Buffer.from(e.short_message, 'hex').toString())).sort((a, b) => a - b),
		Array.from({ length: M }, (_, i) => i + 1));
	assert.ok(dels.every((p) => decodeBody(p.cmd, p.body).tlvs[0x001e].toString('latin1') === 'receipted_message_id\0'));
	assert.match(k.log, new RegExp(`Number of messages sent to ESME: ${M}\\b`));

	// enquire_link: drive_smpp's (one after each deliver_sm) answered; the client's own after
	// 1 s idle, on both binds, answered by drive_smpp
	assert.equal(answered(k, rx, 'smsc', 'enquire_link', 'enquire_link_resp').length, M);
	assert.ok(answered(k, tx, 'esme', 'enquire_link', 'enquire_link_resp').length >= 1, 'the transmitter kept alive');
	assert.ok(answered(k, rx, 'esme', 'enquire_link', 'enquire_link_resp').length >= 1, 'the receiver kept alive');
	assert.equal(k.wire.filter((p) => p.name === 'generic_nack').length, 0, 'no PDU refused either way');

	// unbind: the transmitter first, answered, then the client closes; drive_smpp ends its
	// session on that close, so the receiver is unbound if its unbind got in first, or closed
	assert.equal(answered(k, tx, 'esme', 'unbind', 'unbind_resp').length, 1);
	assert.equal(k.conns.find((c) => c.conn === tx).closedBy, 'esme');
	const down = (b) => r.lines.find((e) => e.event === 'bound' && !e.up && e.bind === b);
	assert.equal(down('tx').why, 'unbound');
	const rxUnbinds = k.pdus(rx, 'unbind').filter((p) => p.from === 'esme');
	const rxResps = k.pdus(rx, 'unbind_resp').filter((p) => p.from === 'smsc');
	assert.ok(down('rx'), 'the receiver went down');
	if (down('rx').why === 'unbound') {
		assert.equal(rxUnbinds.length, 1);
		assert.deepEqual(rxResps.map((p) => [p.seq, p.status]), [[rxUnbinds[0].seq, 0]]);
	} else { // closed, reset, or its unbind written to a closed socket
		assert.equal(k.conns.find((c) => c.conn === rx).closedBy, 'smsc', down('rx').why);
		assert.equal(rxResps.length, 0);
	}
	assert.equal(k.pdus(tx, 'unbind').filter((p) => p.from === 'smsc').length + k.pdus(rx, 'unbind').filter((p) => p.from === 'smsc').length, 0);
	assert.equal(r.stats.rebinds, 0);
	assert.equal(r.stats.resent, 0);
	assert.doesNotMatch(k.log, /PANIC|Unhandled SMPP PDU|PDU unpacking failed|garbage/);
	t.diagnostic(`receiver ended by ${down('rx').why}; ${k.conns.length} connections; port 13001 ${k.box.owned ? 'ours' : 'taken, shared'}; client enquire_links tx ${k.pdus(tx, 'enquire_link').filter((p) => p.from === 'esme').length}, rx ${k.pdus(rx, 'enquire_link').filter((p) => p.from === 'esme').length}`);
});

test('bind_transceiver: drive_smpp never answers it; the client times the bind out, retries, never binds', { skip }, async (t) => {
	const k = await startDriveSmpp({ mos: 1 });
	t.after(() => k.stop());
	const t0 = Date.now();
	const r = await drive(['--port', String(k.port), '--bind', 'trx', '--n', '1', '--timeout-ms', '1500',
		'--response-timeout-ms', '400']);
	assert.equal(r.code, 1, 'the one submit was never accepted');
	assert.deepEqual(r.lines.filter((e) => e.event === 'bound'), [], 'never reported bound');
	assert.deepEqual(r.lines.filter((e) => e.event === 'submitted').map((e) => e.status), [8], 'ESME_RSYSERR at shutdown');
	const { code } = await exitOf(k);
	assert.equal(code, 0);
	// the first connection: one bind_transceiver, nothing back; the client closed it
	const first = k.pdus(1);
	assert.deepEqual(first.map((p) => [p.from, p.name]), [['esme', 'bind_transceiver']]);
	assert.equal(k.conns[0].closedBy, 'esme');
	assert.match(k.log, /Handling SMPP PDU of type bind_transceiver/);
	assert.match(k.log, /ERROR: Unhandled SMPP PDU\./);
	assert.match(k.log, /Number of messages sent to SMSC: 0\b/);
	// bind timeout (400 ms), then reconnects with backoff (drive_smpp is gone by then)
	assert.ok(k.conns.length >= 2, `retried: ${k.conns.length} connections`);
	assert.ok(Date.now() - t0 >= 1400, 'waited for the bind the whole timeout');
});

test('irisx serve, a provider binding a pair: messages sent through drive_smpp, its MO answered', { skip, timeout: 90000 }, async (t) => {
	const N = 20, M = 10, NUM = '+15550003200';
	const k = await startDriveSmpp({ mos: M });
	t.after(() => k.stop());
	const srv = await h.startServer({ tag: 'kannelserve', admin: true });
	t.after(() => srv.cleanup());
	const T = await h.registerTenant(srv, { tag: 'kannelserve' });
	h.expectStatus(await srv.req('POST', '/v1/admin/messaging-providers', {
		token: srv.adminToken,
		json: { name: 'kannel', kind: 'smpp', config: { host: '127.0.0.1', port: k.port, system_id: 'esme1', password: 'pw', bind: 'pair', window: 10 } },
	}), 201);
	const bad = await srv.req('POST', '/v1/admin/messaging-providers', {
		token: srv.adminToken,
		json: { name: 'x', kind: 'smpp', config: { host: '127.0.0.1', port: 9, system_id: 'x', bind: 'both' } },
	});
	assert.equal(h.expectStatus(bad, 400).error.field, 'bind');
	h.expectStatus(await srv.req('POST', '/v1/admin/phone-numbers', { token: srv.adminToken, json: { number: NUM, tenant_id: T.tenantId } }), 201);
	const ids = [];
	for (let i = 0; i < N; i++)
		ids.push(h.expectStatus(await srv.req('POST', '/v1/messages', { token: T.token, json: { from: NUM, to: `+1555320${String(i).padStart(4, '0')}`, body: `k${i}` } }), 201).id);
	const deadline = Date.now() + 40000;
	let st = [];
	while (Date.now() < deadline) {
		st = await Promise.all(ids.map(async (id) => h.expectStatus(await srv.req('GET', `/v1/messages/${id}`, { token: T.token }), 200).status));
		if (st.every((s) => s === 'sent'))
			break;
		await h.sleep(250);
	}
	assert.deepEqual([...new Set(st)], ['sent'], `every message sent through drive_smpp\n${k.log.slice(-2000)}`);
	const bindOf = (name) => k.wire.find((p) => p.from === 'esme' && p.name === name);
	const txBind = bindOf('bind_transmitter'), rxBind = bindOf('bind_receiver');
	assert.ok(txBind && rxBind, 'the provider bound a transmitter and a receiver');
	assert.equal(k.wire.filter((p) => p.name === 'bind_transceiver').length, 0);
	const subs = answered(k, txBind.conn, 'esme', 'submit_sm', 'submit_sm_resp');
	assert.deepEqual(subs.map((p) => decodeBody(p.cmd, p.body).short_message).sort(), Array.from({ length: N }, (_, i) => `k${i}`).sort());
	assert.equal(k.pdus(rxBind.conn, 'submit_sm').length, 0, 'nothing submitted on the receiver');
	// drive_smpp's MO (to "123", a number no tenant has) answered ESME_ROK on the receiver
	for (let i = 0; i < 100 && k.pdus(rxBind.conn, 'deliver_sm_resp').length < M; i++)
		await h.sleep(100);
	assert.equal(answered(k, rxBind.conn, 'smsc', 'deliver_sm', 'deliver_sm_resp').length, M);
	assert.equal(k.wire.filter((p) => p.name === 'generic_nack').length, 0);
	const parts = h.sqlite(path.join(srv.dataDir, 'irisx.db'), 'SELECT message_id, provider_message_id FROM message_parts', { json: true });
	assert.equal(parts.length, N, 'a part row per message, none lost to the empty ids');
	assert.ok(parts.every((p) => p.provider_message_id === `~${p.message_id}.1`));
	await srv.stop();
	const { code } = await exitOf(k, 10000);
	assert.equal(code, 0, k.log.slice(-3000));
	assert.match(k.log, new RegExp(`Number of messages sent to SMSC: ${N}\\b`));
	assert.doesNotMatch(k.log, /PANIC|Unhandled SMPP PDU|PDU unpacking failed/);
});
