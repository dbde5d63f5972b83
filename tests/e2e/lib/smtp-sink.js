// smtp-sink.js: an SMTP server on 127.0.0.1 for the tests (npm smtp-server + mailparser):
// optional AUTH PLAIN/LOGIN with given credentials, optional STARTTLS with a self-signed
// certificate made at start by `openssl req -x509`, replies programmed per recipient
// ({'temp@x.test': 451, 'perm@x.test': 550}), one parsed record per mail in sink.mails
// and, when `log` is given, one JSON line per mail appended to that file.
// Also runnable: `node lib/smtp-sink.js PORT [LOGFILE]` (bench/email.sh), parse off.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { execFileSync } = require('node:child_process');
const { SMTPServer } = require('smtp-server');
const { simpleParser } = require('mailparser');

const HEADERS = ['date', 'message-id', 'mime-version', 'content-type', 'reply-to'];

function selfSigned() {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-sink-'));
	const key = path.join(dir, 'key.pem');
	const cert = path.join(dir, 'cert.pem');
	execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
	const r = { key: fs.readFileSync(key), cert: fs.readFileSync(cert) };
	fs.rmSync(dir, { recursive: true, force: true });
	return r;
}

function addrs(a) {
	if (!a)
		return [];
	return (Array.isArray(a) ? a : [a]).flatMap((x) => x.value.map((v) => ({ name: v.name, address: v.address })));
}

async function record(raw, session) {
	const m = await simpleParser(raw);
	const headers = {};
	for (const h of HEADERS)
		if (m.headers.has(h))
			headers[h] = m.headerLines.find((l) => l.key === h)?.line.replace(/\r?\n(?=[ \t])/g, '').replace(/^[^:]*:\s*/, '');
	return {
		envFrom: session.envelope.mailFrom.address,
		envTo: session.envelope.rcptTo.map((r) => r.address),
		user: session.user || null,
		tls: !!session.secure,
		helo: session.hostNameAppearsAs,
		from: addrs(m.from),
		to: addrs(m.to),
		cc: addrs(m.cc),
		replyTo: addrs(m.replyTo),
		subject: m.subject,
		messageId: m.messageId,
		text: m.text,
		html: m.html || null,
		attachments: m.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, disposition: a.contentDisposition, size: a.size, sha256: crypto.createHash('sha256').update(a.content).digest('hex') })),
		headers,
		rawSize: raw.length,
		raw: raw.toString('latin1'),
	};
}

/* opts: {port (0 = any), auth: {user, pass} | null, starttls: bool, replies: {rcpt: code},
   log: file, parse: true} */
async function startSmtpSink(opts = {}) {
	const mails = [];
	const replies = opts.replies || {};
	const parse = opts.parse !== false;
	let received = 0;
	const tls = opts.starttls ? selfSigned() : {};
	const srv = new SMTPServer({
		...tls,
		logger: false,
		secure: false,
		disableReverseLookup: true, // no DNS for 127.0.0.1 (it costs ~100 ms a connection)
		disabledCommands: opts.starttls ? [] : ['STARTTLS'],
		authMethods: ['PLAIN', 'LOGIN'],
		authOptional: !opts.auth,
		allowInsecureAuth: true,
		size: 32 << 20,
		onAuth(a, session, cb) {
			if (opts.auth && a.username === opts.auth.user && a.password === opts.auth.pass)
				return cb(null, { user: a.username });
			cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
		},
		onRcptTo(addr, session, cb) {
			const code = replies[addr.address];
			if (code)
				return cb(Object.assign(new Error(`${code >= 500 ? 'mailbox unavailable' : 'try again later'} for ${addr.address}`), { responseCode: code }));
			cb();
		},
		onData(stream, session, cb) {
			const chunks = [];
			stream.on('data', (d) => chunks.push(d));
			stream.on('end', async () => {
				received++;
				if (!parse)
					return cb();
				try {
					const rec = await record(Buffer.concat(chunks), session);
					mails.push(rec);
					if (opts.log) {
						const { raw, ...line } = rec;
						fs.appendFileSync(opts.log, JSON.stringify(line) + '\n');
					}
					cb();
				} catch (e) {
					cb(e);
				}
			});
		},
	});
	srv.on('error', () => {});
	await new Promise((res, rej) => {
		srv.server.once('error', rej);
		srv.listen(opts.port || 0, '127.0.0.1', res);
	});
	return {
		mails,
		port: srv.server.address().port,
		get received() {
			return received;
		},
		close: () => new Promise((r) => srv.close(r)),
	};
}

module.exports = { startSmtpSink };

if (require.main === module) {
	startSmtpSink({ port: Number(process.argv[2] || 2525), log: process.argv[3], parse: !!process.argv[3] }).then((s) => {
		console.log(`smtp-sink listening on 127.0.0.1:${s.port}`);
		const stop = () => {
			console.log(`smtp-sink received ${s.received}`);
			process.exit(0);
		};
		process.on('SIGTERM', stop);
		process.on('SIGINT', stop);
	});
}
