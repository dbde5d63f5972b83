// 26-voice-tls: the engine's TLS listener (voice_config.tls_cert) with a self-signed certificate
// made by openssl at test time; a node TLS client (SIPp here has no OpenSSL) sends OPTIONS and
// a whole call: INVITE with SDP, 200, ACK, BYE, 200. A missing certificate fails the start.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const tls = require('node:tls');
const { execFileSync } = require('node:child_process');
const { tmpDir, rmDir } = require('./lib/harness');
const { Uas } = require('./lib/voice');

const RTP = ['--rtp-min', '40400', '--rtp-max', '40599', '--max-calls', '50'];

function makeCert(dir) {
	const key = path.join(dir, 'key.pem');
	const cert = path.join(dir, 'cert.pem');
	execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
		'-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
	const both = path.join(dir, 'both.pem');
	fs.writeFileSync(both, fs.readFileSync(cert, 'latin1') + fs.readFileSync(key, 'latin1'));
	return both;
}

/* SIP over a stream: messages split on the blank line and Content-Length. */
class Conn {
	constructor(port) {
		this.buf = '';
		this.msgs = [];
		this.waiters = [];
		this.sock = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
		this.sock.setEncoding('latin1');
		this.sock.on('data', (d) => {
			this.buf += d;
			this.split();
		});
		this.sock.on('error', () => {});
	}

	ready() {
		return new Promise((res, rej) => {
			this.sock.once('secureConnect', res);
			this.sock.once('error', rej);
		});
	}

	split() {
		for (;;) {
			const end = this.buf.indexOf('\r\n\r\n');
			if (end < 0)
				return;
			const m = /\r\nContent-Length:\s*(\d+)/i.exec(this.buf.slice(0, end));
			const len = m ? +m[1] : 0;
			if (this.buf.length < end + 4 + len)
				return;
			this.msgs.push(this.buf.slice(0, end + 4 + len));
			this.buf = this.buf.slice(end + 4 + len);
		}
	}

	/* The next message matching re (others skipped), within ms. */
	async next(re, ms = 5000) {
		const deadline = Date.now() + ms;
		while (Date.now() < deadline) {
			const i = this.msgs.findIndex((m) => re.test(m));
			if (i >= 0)
				return this.msgs.splice(0, i + 1)[i];
			await new Promise((r) => setTimeout(r, 20));
		}
		throw new Error(`no ${re} in ${ms} ms; got:\n${this.msgs.join('\n---\n')}`);
	}

	send(lines, body = '') {
		this.sock.write([...lines, `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n'));
	}
}

function headers(method, port, cseq, tag) {
	return [
		`Via: SIP/2.0/TLS 127.0.0.1:9;branch=z9hG4bK${method}${cseq}${Math.random().toString(16).slice(2)}`,
		'Max-Forwards: 70',
		'From: <sip:e2e@127.0.0.1>;tag=e2e1',
		`To: <sip:svc@127.0.0.1:${port}>${tag ? `;tag=${tag}` : ''}`,
		'Call-ID: tls-call-1@e2e',
		`CSeq: ${cseq} ${method}`,
		'Contact: <sip:e2e@127.0.0.1:9;transport=tls>',
	];
}

test('TLS: OPTIONS and a call (INVITE, 200, ACK, BYE) over the TLS listener', async () => {
	const dir = tmpDir('vtls');
	let uas;
	try {
		uas = await new Uas([...RTP, '--tls-cert', makeCert(dir)]).start();
		const port = +/^TLS port=(\d+)$/m.exec(uas.out)[1];
		assert.ok(port > 0);
		const c = new Conn(port);
		await c.ready();
		c.send([`OPTIONS sip:svc@127.0.0.1:${port} SIP/2.0`, ...headers('OPTIONS', port, 1)]);
		assert.match(await c.next(/^SIP\/2.0 200/), /CSeq: 1 OPTIONS/);
		const sdp = ['v=0', 'o=e2e 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
			'm=audio 40998 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');
		c.send([`INVITE sip:svc@127.0.0.1:${port} SIP/2.0`, ...headers('INVITE', port, 2),
			'Content-Type: application/sdp'], sdp);
		const ok = await c.next(/^SIP\/2.0 200[^\n]*\n[\s\S]*CSeq: 2 INVITE/);
		assert.match(ok, /m=audio \d+ RTP\/AVP 0/);
		const tag = /\r\nTo:[^\r]*;tag=([^;\r]+)/i.exec(ok)[1];
		c.send([`ACK sip:svc@127.0.0.1:${port} SIP/2.0`, ...headers('ACK', port, 2, tag)]);
		await uas.waitFor(/^ANSWERED call=\d+$/m);
		c.send([`BYE sip:svc@127.0.0.1:${port} SIP/2.0`, ...headers('BYE', port, 3, tag)]);
		await c.next(/^SIP\/2.0 200[^\n]*\n[\s\S]*CSeq: 3 BYE/);
		await uas.waitFor(/^HANGUP call=\d+ code=\d+ cause=remote$/m);
		c.sock.destroy();
		assert.equal(uas.lines(/^INCOMING .*transport=tcp$/).length, 1); // a stream transport
		const stats = await uas.stop();
		assert.equal(stats.calls, 0);
	} catch (e) {
		if (uas) {
			await uas.kill();
			e.message += `\n--- voice_uas stdout:\n${uas.out.slice(-3000)}\n--- stderr:\n${uas.err.slice(-2000)}`;
		}
		throw e;
	} finally {
		rmDir(dir);
	}
});

test('TLS: a missing certificate file fails the start', async () => {
	const dir = tmpDir('vtls');
	try {
		await assert.rejects(new Uas([...RTP, '--tls-cert', path.join(dir, 'none.pem')]).start(),
			/did not start/);
	} finally {
		rmDir(dir);
	}
});
