// kannel.js: Kannel's SMPP test SMSC, /usr/lib/kannel/test/drive_smpp (Debian kannel-extras),
// started on a free 127.0.0.1 port behind a tap that records every PDU crossing the wire.
//
// What drive_smpp is (kannel 1.4.5, test/drive_smpp.c): an SMSC for one ESME session. It
// answers bind_transmitter and bind_receiver (resp with an empty system_id), submit_sm (resp
// with an empty message_id), enquire_link and unbind (resp, it does not close); any other
// command, bind_transceiver included, is logged "Unhandled SMPP PDU" and never answered. Once
// a receiver is bound it sends -m N MO deliver_sm (source 456, destination 123, text "1".."N",
// esm_class 0, a receipted_message_id TLV "receipted_message_id" when interface_version >
// 0x33), each followed by an enquire_link, sequence numbers counting from 0. It sends no
// delivery receipts. When the first ESME connection closes it stops and prints counters
// ("Number of messages sent to SMSC: N"), exit code 0. One second after its first accept it
// connects to a bearerbox on 127.0.0.1:13001 (fixed), retries once 2 s later, then panics:
// so something must listen there; boxPort() listens if the port is free (if it is taken,
// whoever holds it accepts the connection, which is all drive_smpp needs). SIGTERM: panic.
//
// const k = await startDriveSmpp({ mos: 10 }); k.port (the tap, for the ESME), k.wire
// [{conn, from: 'esme'|'smsc', cmd, status, seq, body}], k.conns [{conn, closedBy}],
// k.log (its output), await k.exited -> {code, signal}, await k.stop() (kills it by PID,
// closes the tap; idempotent).
'use strict';

const fs = require('node:fs');
const net = require('node:net');
const { spawn } = require('node:child_process');
const { freePort, sleep } = require('./harness');

const DRIVE_SMPP = process.env.IRISX_DRIVE_SMPP || '/usr/lib/kannel/test/drive_smpp';
const BOX_PORT = 13001; // drive_smpp's bearerbox smsbox-port, not configurable

const CMD = {
	generic_nack: 0x80000000, bind_receiver: 0x1, bind_receiver_resp: 0x80000001,
	bind_transmitter: 0x2, bind_transmitter_resp: 0x80000002, submit_sm: 0x4,
	submit_sm_resp: 0x80000004, deliver_sm: 0x5, deliver_sm_resp: 0x80000005, unbind: 0x6,
	unbind_resp: 0x80000006, bind_transceiver: 0x9, bind_transceiver_resp: 0x80000009,
	enquire_link: 0x15, enquire_link_resp: 0x80000015,
};
const NAME = Object.fromEntries(Object.entries(CMD).map(([k, v]) => [v, k]));

// The fields the tests look at, read from the raw body.
function decodeBody(cmd, body) {
	let off = 0;
	const cstr = () => {
		const end = body.indexOf(0, off);
		if (end < 0) throw new Error(`${NAME[cmd]}: C-Octet String without NUL`);
		const s = body.subarray(off, end).toString('latin1');
		off = end + 1;
		return s;
	};
	const u8 = () => body[off++];
	if (cmd === CMD.bind_transmitter || cmd === CMD.bind_receiver || cmd === CMD.bind_transceiver)
		return { system_id: cstr(), password: cstr(), system_type: cstr(), interface_version: u8() };
	if (cmd === CMD.submit_sm_resp || cmd === CMD.deliver_sm_resp || cmd === CMD.bind_transmitter_resp ||
		cmd === CMD.bind_receiver_resp)
		return body.length ? { id: cstr(), rest: body.length - off } : {};
	if (cmd === CMD.submit_sm || cmd === CMD.deliver_sm) {
		const f = { service_type: cstr(), source_ton: u8(), source_npi: u8(), source_addr: cstr(),
			dest_ton: u8(), dest_npi: u8(), destination_addr: cstr(), esm_class: u8(),
			protocol_id: u8(), priority: u8(), schedule: cstr(), validity: cstr(),
			registered_delivery: u8(), replace: u8(), data_coding: u8(), default_id: u8() };
		const n = u8();
		f.short_message = body.subarray(off, off + n).toString('latin1');
		off += n;
		f.tlvs = {};
		while (off + 4 <= body.length) {
			const tag = body.readUInt16BE(off), len = body.readUInt16BE(off + 2);
			f.tlvs[tag] = body.subarray(off + 4, off + 4 + len);
			off += 4 + len;
		}
		return f;
	}
	return {};
}

let box = null; // { server, owned, sockets }

// Something on 127.0.0.1:13001 that accepts and stays silent (see above).
function boxPort() {
	if (box) return Promise.resolve(box);
	return new Promise((resolve, reject) => {
		const sockets = new Set();
		const server = net.createServer((s) => {
			sockets.add(s);
			s.on('data', () => {});
			s.on('error', () => {});
			s.on('close', () => sockets.delete(s));
		});
		server.once('error', (e) => {
			if (e.code !== 'EADDRINUSE') return reject(e);
			box = { server: null, owned: false, sockets };
			resolve(box);
		});
		server.listen(BOX_PORT, '127.0.0.1', () => {
			box = { server, owned: true, sockets };
			resolve(box);
		});
	});
}

function closeBoxPort() {
	if (!box) return Promise.resolve();
	const b = box;
	box = null;
	for (const s of b.sockets) s.destroy();
	return b.server ? new Promise((r) => b.server.close(() => r())) : Promise.resolve();
}

// Is a TCP socket listening on port? (read from /proc: connecting would start a session)
function listening(port) {
	const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
	for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
		let text = '';
		try { text = fs.readFileSync(f, 'utf8'); } catch { continue; }
		for (const line of text.split('\n').slice(1)) {
			const cols = line.trim().split(/\s+/);
			if (cols.length > 3 && (cols[1] + ' ').endsWith(hex) && cols[3] === '0A') return true;
		}
	}
	return false;
}

// The tap: every ESME connection is relayed to drive_smpp, each PDU recorded.
function startTap(upstream, k) {
	let n = 0;
	const sockets = new Set();
	const server = net.createServer((esme) => {
		const conn = ++n;
		const c = { conn, closedBy: null };
		k.conns.push(c);
		const smsc = net.connect(upstream, '127.0.0.1');
		for (const s of [esme, smsc]) {
			sockets.add(s);
			s.on('close', () => sockets.delete(s));
		}
		const tap = (from) => {
			let buf = Buffer.alloc(0);
			return (d) => {
				buf = Buffer.concat([buf, d]);
				while (buf.length >= 16 && buf.length >= buf.readUInt32BE(0)) {
					const len = buf.readUInt32BE(0);
					const p = buf.subarray(0, len);
					buf = buf.subarray(len);
					const cmd = p.readUInt32BE(4);
					k.wire.push({ conn, from, cmd, name: NAME[cmd] || cmd.toString(16),
						status: p.readUInt32BE(8), seq: p.readUInt32BE(12), body: p.subarray(16),
						at: Date.now() });
				}
			};
		};
		esme.on('data', tap('esme'));
		smsc.on('data', tap('smsc'));
		esme.pipe(smsc);
		smsc.pipe(esme);
		// who closed first: an ESME that unbinds closes; drive_smpp closes when it stops
		esme.on('end', () => { c.closedBy = c.closedBy || 'esme'; });
		smsc.on('end', () => { c.closedBy = c.closedBy || 'smsc'; });
		smsc.on('error', () => { c.closedBy = c.closedBy || 'refused'; esme.destroy(); });
		esme.on('error', () => smsc.destroy());
		esme.on('close', () => smsc.destroy());
		smsc.on('close', () => esme.destroy());
	});
	server.sockets = sockets;
	return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function startDriveSmpp({ mos = 1 } = {}) {
	await boxPort();
	const smscPort = await freePort();
	const k = { wire: [], conns: [], log: '', smscPort, box };
	const child = spawn(DRIVE_SMPP, ['-v', '0', '-p', String(smscPort), '-m', String(mos)],
		{ stdio: ['ignore', 'pipe', 'pipe'] });
	k.pid = child.pid;
	child.stdout.on('data', (d) => { k.log += d; });
	child.stderr.on('data', (d) => { k.log += d; });
	k.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
	let gone = false;
	k.exited.then(() => { gone = true; });
	for (let i = 0; !listening(smscPort); i++) {
		if (gone || i > 200) {
			child.kill('SIGKILL');
			throw new Error(`drive_smpp did not listen on ${smscPort}:\n${k.log}`);
		}
		await sleep(10);
	}
	const tap = await startTap(smscPort, k);
	k.port = tap.address().port;
	let stopped = null;
	k.stop = () => (stopped = stopped || (async () => { // by PID; idempotent
		if (child.exitCode === null && child.signalCode === null) {
			process.kill(child.pid, 'SIGKILL');
			await k.exited;
		}
		const closed = new Promise((r) => tap.close(() => r()));
		for (const s of tap.sockets) s.destroy();
		await closed;
	})());
	// PDUs of one connection, optionally of one command (by name)
	k.pdus = (conn, name) => k.wire.filter((p) => p.conn === conn && (!name || p.name === name));
	return k;
}

module.exports = { DRIVE_SMPP, CMD, startDriveSmpp, closeBoxPort, decodeBody };
