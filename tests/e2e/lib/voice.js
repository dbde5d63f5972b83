// voice.js: runs the voice engine's test helper (tests/voice/voice_uas, built beside irisx) and
// SIPp on 127.0.0.1 for the 2x-voice-* tests; every process is ours and stopped by its PID.
'use strict';

const dgram = require('node:dgram');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { BIN, freePort, sleep, tmpDir, rmDir } = require('./harness');

const UAS = process.env.IRISX_VOICE_UAS || path.join(path.dirname(BIN), 'tests', 'voice', 'voice_uas');
const SCEN = path.join(__dirname, '..', 'voice');

const children = new Set();
process.on('exit', () => {
	for (const c of children) {
		try {
			process.kill(c.pid, 'SIGKILL');
		} catch {}
	}
});

function waitExit(child, ms) {
	return new Promise((resolve) => {
		if (child.exitCode !== null || child.signalCode !== null)
			return resolve(true);
		const t = setTimeout(() => resolve(false), ms);
		child.once('exit', () => {
			clearTimeout(t);
			resolve(true);
		});
	});
}

/* The engine helper: lines on stdout, one per event. */
class Uas {
	constructor(args) {
		this.args = args;
		this.out = '';
		this.err = '';
	}

	async start() {
		if (!fs.existsSync(UAS))
			throw new Error(`voice_uas not found at ${UAS} (build it or set IRISX_VOICE_UAS)`);
		for (let attempt = 0; attempt < 4; attempt++) {
			this.port = await freePort();
			const c = spawn(UAS, ['--port', String(this.port), ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
			children.add(c);
			c.on('exit', () => children.delete(c));
			this.child = c;
			c.stdout.setEncoding('utf8');
			c.stderr.setEncoding('utf8');
			c.stdout.on('data', (d) => (this.out += d));
			c.stderr.on('data', (d) => (this.err += d));
			const ok = await this.waitFor(/^READY port=\d+$/m, 10000).then(
				() => true,
				() => false
			);
			if (ok) {
				// the port bound (args may say --port 0) and every signalling stack's
				// port (--sig-threads N prints N)
				this.port = +/^READY port=(\d+)$/m.exec(this.out)[1];
				const m = /^PORTS ([\d ]+)$/m.exec(this.out);
				this.ports = m ? m[1].trim().split(' ').map(Number) : [this.port];
				return this;
			}
			await this.kill();
			if (!/in use/i.test(this.err))
				break;
		}
		throw new Error(`voice_uas did not start: ${this.err.slice(-2000)}`);
	}

	alive() {
		return this.child && this.child.exitCode === null && this.child.signalCode === null;
	}

	lines(re) {
		return this.out.split('\n').filter((l) => re.test(l));
	}

	async waitFor(re, ms = 10000) {
		const deadline = Date.now() + ms;
		while (Date.now() < deadline) {
			const m = re.exec(this.out);
			if (m)
				return m;
			if (!this.alive())
				throw new Error(`voice_uas exited (${this.child.exitCode}/${this.child.signalCode}):\n${this.out}\n${this.err.slice(-3000)}`);
			await sleep(25);
		}
		throw new Error(`timed out waiting for ${re} in:\n${this.out}\n${this.err.slice(-1500)}`);
	}

	async kill() {
		if (this.alive()) {
			this.child.kill('SIGKILL');
			await waitExit(this.child, 5000);
		}
	}

	/* SIGTERM, then the STATS line; fails on a crash, a hang or a sanitizer report. */
	async stop() {
		if (!this.alive())
			throw new Error(`voice_uas died early (${this.child.exitCode}/${this.child.signalCode}):\n${this.err.slice(-3000)}`);
		this.child.kill('SIGTERM');
		if (!(await waitExit(this.child, 15000))) {
			await this.kill();
			throw new Error('voice_uas still running 15 s after SIGTERM');
		}
		const m = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/.exec(this.err);
		if (m)
			throw new Error(`sanitizer report:\n${this.err.slice(Math.max(0, m.index - 200), m.index + 3000)}`);
		if (this.child.exitCode !== 0)
			throw new Error(`voice_uas exited ${this.child.exitCode}:\n${this.err.slice(-2000)}`);
		const s = /^STATS (.*)$/m.exec(this.out);
		const stats = {};
		for (const kv of (s ? s[1] : '').split(' ')) {
			const [k, v] = kv.split('=');
			if (k)
				stats[k] = +v;
		}
		return stats;
	}
}

/* Runs SIPp against the helper: opts {scenario (file in tests/e2e/voice) or sn, service, calls,
   rate, hold (ms), tcp, rtpEcho, extra, port (default uas.port: one of uas.ports)}. Returns
   {code, ok, failed, screen, errors, out}. */
/* Runs SIPp as a client; a port another process took between freePort() and SIPp's bind
   (SIPp exits 254 "Address already in use" before sending anything) is retried with new
   ports. */
async function sipp(uas, o = {}) {
	for (let attempt = 0; ; attempt++) {
		const r = await sippOnce(uas, o);
		const clash = r.code === 254 && /Address already in use|errno = 98/.test(r.screen + r.errors + r.out);
		if (!clash || attempt >= 4)
			return r;
	}
}

async function sippOnce(uas, o = {}) {
	const dir = tmpDir('sipp');
	const lport = await freePort();
	const mport = await freePort();
	const args = [
		`127.0.0.1:${o.port || uas.port}`, '-i', '127.0.0.1', '-p', String(lport), '-mi', '127.0.0.1',
		'-mp', String(mport), '-m', String(o.calls || 1), '-r', String(o.rate || 1),
		'-nostdin', '-timeout', String(o.timeout || 30), '-timeout_error', '-trace_screen', '-trace_err',
		'-s', o.service || 'svc', '-max_recv_loops', '1000',
	];
	if (o.scenario)
		args.unshift('-sf', path.join(SCEN, o.scenario));
	else
		args.unshift('-sn', o.sn || 'uac');
	if (o.hold !== undefined)
		args.push('-d', String(o.hold));
	if (o.tcp)
		args.push('-t', 't1');
	if (o.rtpEcho)
		args.push('-rtp_echo');
	args.push(...(o.extra || []));
	return sippFinish(spawnSipp(args, dir), dir, (o.timeout || 30) + 10);
}

/* Starts SIPp in dir with its output collected in the returned child's `out`. */
function spawnSipp(args, dir) {
	const c = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
	children.add(c);
	c.out = '';
	c.stdout.on('data', (d) => (c.out += d));
	c.stderr.on('data', (d) => (c.out += d));
	return c;
}

/* Waits up to secs for SIPp to exit (then kills it), reads its screen and error logs,
   removes dir, and returns {code, ok, failed, screen, errors, out, describe()}. */
async function sippFinish(c, dir, secs) {
	if (!(await waitExit(c, secs * 1000))) {
		c.kill('SIGKILL');
		await waitExit(c, 5000);
	}
	children.delete(c);
	const read = (suffix) => {
		const f = fs.readdirSync(dir).find((n) => n.endsWith(suffix));
		return f ? fs.readFileSync(path.join(dir, f), 'latin1') : '';
	};
	const screen = read('_screen.log');
	const errors = read('_errors.log');
	rmDir(dir);
	const num = (re) => {
		const m = re.exec(screen);
		return m ? +m[1] : -1;
	};
	const out = c.out;
	return {
		code: c.exitCode,
		ok: num(/Successful call\s*\|\s*\d+\s*\|\s*(\d+)/),
		failed: num(/Failed call\s*\|\s*\d+\s*\|\s*(\d+)/),
		screen,
		errors,
		out,
		describe() {
			return `sipp exit ${c.exitCode}\n${screen.slice(-2500)}\n${errors.slice(-2500)}\n${out.slice(-1000)}`;
		},
	};
}

/* Sends one UDP datagram and collects replies for ms. */
function udpExchange(port, msg, ms = 1000) {
	return new Promise((resolve) => {
		const s = dgram.createSocket('udp4');
		const got = [];
		s.on('message', (m) => got.push(m.toString('latin1')));
		s.bind(0, '127.0.0.1', () => {
			s.send(Buffer.isBuffer(msg) ? msg : Buffer.from(msg, 'latin1'), port, '127.0.0.1');
			setTimeout(() => {
				s.close();
				resolve(got);
			}, ms);
		});
	});
}

function options(port, { pad = 0, branch = Math.random().toString(16).slice(2) } = {}) {
	const lines = [
		`OPTIONS sip:probe@127.0.0.1:${port} SIP/2.0`,
		`Via: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK${branch}`,
		'Max-Forwards: 70',
		'From: <sip:e2e@127.0.0.1>;tag=1',
		`To: <sip:probe@127.0.0.1:${port}>`,
		`Call-ID: ${branch}@e2e`,
		'CSeq: 1 OPTIONS',
	];
	if (pad)
		lines.push(`X-Pad: ${'a'.repeat(pad)}`);
	lines.push('Content-Length: 0', '', '');
	return lines.join('\r\n');
}


/* SIPp as the far end (a carrier or a device) listening on its own free port: opts {scenario,
   calls, timeout, keys {name: value}, extra}. Returns {port, done} where done resolves like
   sipp()'s result once SIPp exits. */
async function sippServerOnce(o) {
	const dir = tmpDir('sipps');
	const port = await freePort();
	const mport = await freePort();
	const args = ['-sf', path.join(SCEN, o.scenario), '-i', '127.0.0.1', '-p', String(port), '-mi', '127.0.0.1',
		'-mp', String(mport), '-m', String(o.calls || 1), '-nostdin', '-timeout', String(o.timeout || 20),
		'-timeout_error', '-trace_screen', '-trace_err'];
	for (const [k, v] of Object.entries(o.keys || {}))
		args.push('-key', k, String(v));
	args.push(...(o.extra || []));
	const c = spawnSipp(args, dir);
	const done = sippFinish(c, dir, (o.timeout || 20) + 10);
	await sleep(300); /* let it bind */
	return { port, done, kill: () => c.kill('SIGTERM'), exited: () => c.exitCode !== null || c.signalCode !== null };
}

/* SIPp binds -mp and the next ports too; a free port's neighbour may be taken: retry. */
async function sippServer(o = {}) {
	let s;
	for (let i = 0; i < 4; i++) {
		s = await sippServerOnce(o);
		if (!s.exited())
			return s;
		await s.done;
	}
	return s;
}

module.exports = { Uas, sipp, sippServer, udpExchange, options, UAS };
