// smsc.js: an SMSC for the tests, built on the npm `smpp` package (the real peer): binds
// transceivers, answers submit_sm with a message id, sends delivery receipts, MO messages on
// request, and misbehaves on request (throttle, drop the bind, garbage PDUs).
//
// As a program:  node lib/smsc.js [--port 0] [--system-id esme1] [--password pw]
//                  [--receipt after|before|none] [--receipt-delay-ms 20] [--throttle-first N]
//                  [--drop-after N] [--garbage-after-bind] [--empty-ids] [--quiet]
// --empty-ids: every submit_sm_resp has an empty message_id and no receipt follows (what
// Kannel's drive_smpp answers)
// prints one JSON line per event on stdout: {"event":"listening","port":P} first, then
// bind, submit_sm {seq, source_addr, destination_addr, data_coding, esm_class, short_message
// (hex), message_id, throttled?, dropped?}, deliver_sm_resp, generic_nack, unbind, close.
// Commands, one per line on stdin:  mo <from> <to> <text...> | throttle <n> | drop |
//                                   garbage | quit
// From a test: const { startSmsc } = require('./lib/smsc'); const s = await startSmsc({...});
//   s.port, s.events (array), s.waitFor(pred, ms), s.command('mo 1555 12345 hi'), s.stop().
'use strict';

const path = require('node:path');
const { spawn } = require('node:child_process');
const readline = require('node:readline');

function parseArgs(argv) {
	const o = { port: 0, systemId: 'esme1', password: 'pw', receipt: 'after', receiptDelayMs: 20,
		throttleFirst: 0, dropAfter: 0, garbageAfterBind: false, emptyIds: false, quiet: false };
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i], v = argv[i + 1];
		if (a === '--port') o.port = Number(v), i++;
		else if (a === '--system-id') o.systemId = v, i++;
		else if (a === '--password') o.password = v, i++;
		else if (a === '--receipt') o.receipt = v, i++;
		else if (a === '--receipt-delay-ms') o.receiptDelayMs = Number(v), i++;
		else if (a === '--throttle-first') o.throttleFirst = Number(v), i++;
		else if (a === '--drop-after') o.dropAfter = Number(v), i++;
		else if (a === '--garbage-after-bind') o.garbageAfterBind = true;
		else if (a === '--empty-ids') o.emptyIds = true;
		else if (a === '--quiet') o.quiet = true; // no submit_sm lines (benchmarks)
		else throw new Error(`smsc: unknown option ${a}`);
	}
	return o;
}

// short_message as raw bytes, read from the PDU itself (the package decodes it to text)
function rawShortMessage(buf) {
	let off = 16;
	const cstr = () => { while (buf[off] !== 0 && off < buf.length) off++; off++; };
	cstr(); off += 2; cstr(); off += 2; cstr(); // service_type, source, destination
	off += 3; cstr(); cstr(); off += 4;         // esm..priority, schedule, validity, rd..def
	const n = buf[off];
	return buf.subarray(off + 1, off + 1 + n);
}

// the smallest garbage that keeps the stream in step: an unknown command, then a deliver_sm
// whose service_type has no NUL
const GARBAGE = [Buffer.from('00000010000000990000000000000077', 'hex'),
	Buffer.from('000000180000000500000000000000784141414141414141', 'hex')];

function runServer(o) {
	const smpp = require('smpp');
	smpp.PDU.fromStream = function (stream, len) { // as the package's, keeping the raw bytes
		const rest = stream.read(len - 4);
		if (!rest) return false;
		const head = Buffer.alloc(4);
		head.writeUInt32BE(len, 0);
		const raw = Buffer.concat([head, rest]);
		const p = new smpp.PDU(raw);
		p._raw = raw;
		return p;
	};
	const log = (e) => process.stdout.write(JSON.stringify(e) + '\n');
	const sessions = new Set();
	let submits = 0, nextId = 1, throttle = o.throttleFirst, drop = o.dropAfter;
	const server = smpp.createServer((s) => {
		let bound = false;
		s.on('error', () => {});
		s.on('bind_transceiver', (p) => {
			const ok = p.system_id === o.systemId && p.password === o.password;
			log({ event: 'bind', system_id: p.system_id, ok });
			s.send(p.response({ command_status: ok ? 0 : smpp.ESME_RBINDFAIL, system_id: 'IRISXSMSC' }));
			if (!ok) return;
			bound = true;
			sessions.add(s);
			if (o.garbageAfterBind) for (const g of GARBAGE) s.socket.write(g);
		});
		s.on('enquire_link', (p) => s.send(p.response()));
		s.on('submit_sm', (p) => {
			submits++;
			const rec = { event: 'submit_sm', seq: p.sequence_number, source_addr: p.source_addr,
				destination_addr: p.destination_addr, data_coding: p.data_coding, esm_class: p.esm_class,
				short_message: p._raw ? rawShortMessage(p._raw).toString('hex') : '',
				registered_delivery: p.registered_delivery, n: submits };
			if (drop > 0 && submits >= drop) { // lose the bind with this submit unanswered
				drop = 0;
				rec.dropped = true;
				if (!o.quiet) log(rec);
				s.socket.destroy();
				return;
			}
			if (throttle > 0) {
				throttle--;
				rec.throttled = true;
				if (!o.quiet) log(rec);
				s.send(p.response({ command_status: smpp.ESME_RTHROTTLED }));
				return;
			}
			const id = o.emptyIds ? '' : 'm' + (nextId++).toString(16).padStart(8, '0');
			rec.message_id = id;
			if (!o.quiet) log(rec);
			const receipt = () => s.deliver_sm({ source_addr: p.destination_addr, destination_addr: p.source_addr,
				esm_class: smpp.ESM_CLASS.MC_DELIVERY_RECEIPT, receipted_message_id: id,
				message_state: smpp.MESSAGE_STATE.DELIVERED,
				short_message: `id:${id} sub:001 dlvrd:001 submit date:2501011200 done date:2501011200 stat:DELIVRD err:000 text:` });
			const want = p.registered_delivery & 1 && o.receipt !== 'none' && !o.emptyIds;
			if (want && o.receipt === 'before') receipt();
			s.send(p.response({ message_id: id }));
			if (want && o.receipt === 'after') setTimeout(receipt, o.receiptDelayMs);
		});
		s.on('deliver_sm_resp', (p) => log({ event: 'deliver_sm_resp', seq: p.sequence_number, status: p.command_status }));
		s.on('generic_nack', (p) => log({ event: 'generic_nack', seq: p.sequence_number, status: p.command_status }));
		s.on('unknown', (p) => s.send(p.response()));
		s.on('unbind', (p) => { log({ event: 'unbind' }); s.send(p.response()); s.close(); });
		s.on('close', () => { sessions.delete(s); if (bound) log({ event: 'close' }); });
	});
	server.listen(o.port, '127.0.0.1', () => log({ event: 'listening', port: server.address().port }));
	const rl = readline.createInterface({ input: process.stdin });
	rl.on('line', (line) => {
		const [cmd, ...args] = line.trim().split(/\s+/);
		if (cmd === 'mo') {
			for (const s of sessions)
				s.deliver_sm({ source_addr: args[0], destination_addr: args[1], short_message: args.slice(2).join(' ') });
			log({ event: 'mo_sent', sessions: sessions.size });
		} else if (cmd === 'throttle') {
			throttle = Number(args[0]);
		} else if (cmd === 'drop') {
			for (const s of sessions) s.socket.destroy();
		} else if (cmd === 'garbage') {
			for (const s of sessions) for (const g of GARBAGE) s.socket.write(g);
		} else if (cmd === 'quit') {
			process.exit(0);
		}
	});
	rl.on('close', () => process.exit(0));
}

// Starts this file as a child process; resolves once it listens.
function startSmsc(opts = {}) {
	const args = [__filename];
	for (const [k, v] of Object.entries(opts)) {
		const flag = '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
		if (v === true) args.push(flag);
		else if (v !== false && v !== undefined) args.push(flag, String(v));
	}
	const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'],
		cwd: path.join(__dirname, '..') });
	const events = [];
	const waiters = [];
	const smsc = {
		child, events, port: 0,
		command: (line) => child.stdin.write(line + '\n'),
		waitFor(pred, ms = 10000) {
			const hit = events.find(pred);
			if (hit) return Promise.resolve(hit);
			return new Promise((resolve, reject) => {
				const w = { pred, resolve };
				w.timer = setTimeout(() => { waiters.splice(waiters.indexOf(w), 1); reject(new Error('smsc: timed out waiting')); }, ms);
				waiters.push(w);
			});
		},
		stop() {
			return new Promise((resolve) => {
				if (child.exitCode !== null) return resolve();
				child.once('exit', resolve);
				child.kill('SIGTERM');
			});
		},
	};
	readline.createInterface({ input: child.stdout }).on('line', (l) => {
		let e;
		try { e = JSON.parse(l); } catch { return; }
		events.push(e);
		for (const w of [...waiters])
			if (w.pred(e)) { clearTimeout(w.timer); waiters.splice(waiters.indexOf(w), 1); w.resolve(e); }
	});
	return smsc.waitFor((e) => e.event === 'listening', 10000).then((e) => { smsc.port = e.port; return smsc; });
}

if (require.main === module)
	runServer(parseArgs(process.argv.slice(2)));

module.exports = { startSmsc };
