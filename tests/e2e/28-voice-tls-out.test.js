// 28-voice-tls-out: the engine dialling `sip:...;transport=tls` (libre's TLS client, the
// context of the engine's own TLS listener, with our trust store): to another engine's TLS
// listener whose certificate tls_ca trusts (answered, media both ways, BYE); to a node TLS
// server whose certificate is not trusted (refused in the handshake, no SIP sent), is trusted
// through tls_ca (accepted although its name is another one: the host name is not checked,
// see docs/voice.md), or with tls_no_verify; without a certificate of its own (no TLS
// transport); to a peer that closes during the handshake (a transport error, not a cancel); and
// plain TCP to a TLS port (libre does not report that reset: the dial's timeout ends it).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const tls = require('node:tls');
const { execFileSync } = require('node:child_process');
const { tmpDir, rmDir } = require('./lib/harness');
const { Uas } = require('./lib/voice');

const RTP = ['--rtp-min', '40700', '--rtp-max', '40799', '--max-calls', '20'];

let dir;
const certs = {};

/* A self-signed certificate and key for cn, made by openssl: {key, cert, both} paths. */
function makeCert(cn) {
	const key = path.join(dir, `key-${cn}.pem`);
	const cert = path.join(dir, `cert-${cn}.pem`);
	execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
		'-days', '1', '-subj', `/CN=${cn}`], { stdio: 'ignore' });
	const both = path.join(dir, `both-${cn}.pem`);
	fs.writeFileSync(both, fs.readFileSync(cert, 'latin1') + fs.readFileSync(key, 'latin1'));
	return { key, cert, both };
}

test.before(() => {
	dir = tmpDir('tlsout');
	certs.local = makeCert('127.0.0.1');
	certs.other = makeCert('other.example');
});
test.after(() => rmDir(dir));

/* Starts voice_uas; on a failure inside fn its output joins the error. */
async function withUas(args, fn) {
	const uas = await new Uas([...RTP, ...args]).start();
	try {
		await fn(uas);
	} catch (e) {
		await uas.kill();
		e.message += `\n--- voice_uas ${args.join(' ')}:\n${uas.out.slice(-3000)}\n${uas.err.slice(-1500)}`;
		throw e;
	}
	return uas.stop();
}

async function tlsPort(uas) {
	return +(await uas.waitFor(/^TLS port=(\d+)$/m))[1];
}

function rx(uas) {
	const m = /^QUALITY .* rx=(\d+)/m.exec(uas.out);
	return m ? +m[1] : -1;
}

test('dialling ;transport=tls to another engine: answered, media both ways, our BYE', async () => {
	let far;
	let near;
	await withUas(['--tls-cert', certs.local.both, '--tls-port', '0'], async (b) => {
		far = b;
		const port = await tlsPort(b);
		assert.notEqual(port, b.port);
		const uri = `sip:svc@127.0.0.1:${port};transport=tls`;
		await withUas(['--tls-cert', certs.local.both, '--tls-ca', certs.local.cert, '--dial', uri, '--hangup-after', '1500'], async (a) => {
			near = a;
			await a.waitFor(/^HANGUP /m, 10000);
		});
		await b.waitFor(/^HANGUP /m, 5000);
	});
	assert.equal(near.lines(/^ANSWERED /).length, 1, near.out);
	assert.equal(near.lines(/^HANGUP call=\d+ code=0 cause=local$/).length, 1, near.out);
	assert.equal(far.lines(/^INCOMING .*to=sip:svc@127\.0\.0\.1:\d+;transport=tls .*transport=tcp$/).length, 1, far.out);
	assert.equal(far.lines(/^HANGUP call=\d+ code=0 cause=remote$/).length, 1, far.out);
	/* 1.5 s of 20 ms frames each way */
	assert.ok(rx(near) >= 40, `caller rx: ${near.out}`);
	assert.ok(rx(far) >= 40, `callee rx: ${far.out}`);
});

/* A TLS server that answers every INVITE with 486 on the connection and records what it saw. */
function busyTlsServer(cert) {
	const seen = { conns: [], invites: [], acks: 0 };
	const srv = tls.createServer({ key: fs.readFileSync(cert.key), cert: fs.readFileSync(cert.cert) }, (sock) => {
		seen.conns.push({ servername: sock.servername, protocol: sock.getProtocol() });
		let buf = '';
		sock.setEncoding('latin1');
		sock.on('error', () => {});
		sock.on('data', (d) => {
			buf += d;
			for (;;) {
				const end = buf.indexOf('\r\n\r\n');
				if (end < 0)
					return;
				const m = /\r\nContent-Length:\s*(\d+)/i.exec(buf.slice(0, end));
				const len = m ? +m[1] : 0;
				if (buf.length < end + 4 + len)
					return;
				const msg = buf.slice(0, end + 4 + len);
				buf = buf.slice(end + 4 + len);
				if (msg.startsWith('ACK '))
					seen.acks++;
				if (!msg.startsWith('INVITE '))
					continue;
				seen.invites.push(msg);
				const h = (name) => msg.split('\r\n').filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
				sock.write([
					'SIP/2.0 486 Busy Here', ...h('Via'), ...h('From'), `${h('To')[0]};tag=tlsbusy`, ...h('Call-ID'),
					...h('CSeq'), 'Content-Length: 0', '', '',
				].join('\r\n'));
			}
		});
	});
	return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, seen, port: srv.address().port })));
}

/* Dials the busy TLS server with extra voice_uas flags; returns what both sides saw. */
async function dialBusy(cert, flags) {
	const { srv, seen, port } = await busyTlsServer(cert);
	try {
		let near;
		await withUas(['--tls-cert', certs.local.both, ...flags, '--dial', `sip:svc@127.0.0.1:${port};transport=tls`], async (a) => {
			near = a;
			await a.waitFor(/^HANGUP /m, 10000);
			const deadline = Date.now() + 3000;
			while (!seen.acks && seen.invites.length && Date.now() < deadline)
				await new Promise((r) => setTimeout(r, 20));
		});
		return { seen, near };
	} finally {
		srv.close();
	}
}

test('a server certificate the engine does not trust is refused before any SIP is sent', async () => {
	// system store (no tls_ca): a self-signed certificate is not trusted
	for (const flags of [[], ['--tls-ca', certs.local.cert]]) {
		const { seen, near } = await dialBusy(certs.other, flags);
		assert.equal(seen.invites.length, 0, `no INVITE crosses an unverified connection (${flags.join(' ')})`);
		assert.equal(near.lines(/^HANGUP call=\d+ code=0 cause=error/).length, 1, near.out);
	}
});

test('a certificate whose CA is in tls_ca is accepted (the host name is not checked); tls_no_verify accepts any', async () => {
	for (const flags of [['--tls-ca', certs.other.cert], ['--tls-no-verify', '1']]) {
		const { seen, near } = await dialBusy(certs.other, flags);
		assert.equal(seen.conns.length, 1, JSON.stringify(seen));
		assert.equal(seen.conns[0].servername, false, 'libre 1.1.0 sends no SNI');
		assert.match(seen.conns[0].protocol, /^TLSv1\.[23]$/);
		assert.equal(seen.invites.length, 1, JSON.stringify(seen));
		assert.match(seen.invites[0], /^INVITE sip:svc@127\.0\.0\.1:\d+;transport=tls SIP\/2\.0\r\n/);
		assert.match(seen.invites[0], /\r\nVia: SIP\/2\.0\/TLS /);
		assert.equal(seen.acks, 1, 'the ACK for the 486 on the same connection');
		assert.equal(near.lines(/^HANGUP call=\d+ code=486 cause=rejected reason="Busy Here"$/).length, 1, near.out);
	}
});

test('without a certificate of its own the engine has no TLS transport: HANGUP code=0 cause=error at once', async () => {
	const { srv, seen, port } = await busyTlsServer(certs.local);
	try {
		let near;
		const t0 = Date.now();
		await withUas(['--dial', `sip:svc@127.0.0.1:${port};transport=tls`], async (a) => {
			near = a;
			await a.waitFor(/^HANGUP /m, 5000);
		});
		assert.ok(Date.now() - t0 < 4000);
		assert.equal(near.lines(/^HANGUP call=\d+ code=0 cause=error$/).length, 1, near.out);
		assert.equal(seen.conns.length, 0);
	} finally {
		srv.close();
	}
});

/* A TCP server that is not TLS: it reads the first bytes (the ClientHello) and closes. (Not
   another engine's plain SIP port: libre's TCP parser closes on a ClientHello only when its random
   bytes happen to fail the start-line match, else it waits for the rest of the "line".) */
function closingTcpServer() {
	const seen = { conns: 0, bytes: 0 };
	const srv = net.createServer((sock) => {
		seen.conns++;
		sock.on('error', () => {});
		sock.once('data', (d) => {
			seen.bytes += d.length;
			seen.first = d[0];
			sock.destroy();
		});
	});
	return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, seen, port: srv.address().port })));
}

test('TLS to a peer that closes during the handshake: a transport error (code=0), not a cancel', async () => {
	const { srv, seen, port } = await closingTcpServer();
	try {
		let near;
		const t0 = Date.now();
		await withUas(['--tls-cert', certs.local.both, '--dial', `sip:svc@127.0.0.1:${port};transport=tls`], async (a) => {
			near = a;
			await a.waitFor(/^HANGUP /m, 5000);
		});
		assert.ok(Date.now() - t0 < 4000);
		assert.equal(seen.conns, 1);
		assert.equal(seen.first, 0x16, 'a TLS handshake record came first');
		assert.equal(near.lines(/^HANGUP call=\d+ code=0 cause=error$/).length, 1, near.out);
	} finally {
		srv.close();
	}
});

test('plain TCP to a TLS port: the listener drops it, libre misses the reset, the dial timeout ends it', async () => {
	await withUas(['--tls-cert', certs.local.both, '--tls-port', '0'], async (b) => {
		const port = await tlsPort(b);
		let near;
		await withUas(['--dial', `sip:svc@127.0.0.1:${port};transport=tcp`, '--dial-timeout', '1500'], async (a) => {
			near = a;
			await a.waitFor(/^HANGUP /m, 6000);
		});
		assert.equal(near.lines(/^HANGUP call=\d+ code=408 cause=timeout$/).length, 1, near.out);
		assert.equal(b.lines(/^INCOMING /).length, 0, b.out);
	});
});
