// 31-smtp: the e-mail sender (tests/messaging/email_send: email_mime_build + smtp_send over
// libcurl) against real SMTP servers on 127.0.0.1: the npm smtp-server sink (parsed back by
// mailparser) and postfix's smtp-sink: plain, html+text, unicode, attachments by sha256,
// cc/bcc, AUTH, STARTTLS, 451/550/refused classified, and forced bounces from postfix.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { BIN, freePort, sleep, tmpDir, rmDir } = require('./lib/harness');
const { startSmtpSink } = require('./lib/smtp-sink');

const SEND = process.env.IRISX_EMAIL_SEND || path.join(path.dirname(BIN), 'tests', 'messaging', 'email_send');

/* Runs email_send with msg as its stdin; resolves {code, out (parsed JSON line), stderr}. */
function send(msg, args = []) {
	if (!fs.existsSync(SEND))
		throw new Error(`email_send not found at ${SEND} (build it or set IRISX_EMAIL_SEND)`);
	return new Promise((resolve, reject) => {
		const c = spawn(SEND, args, { stdio: ['pipe', 'pipe', 'pipe'] });
		let out = '';
		let err = '';
		c.stdout.on('data', (d) => (out += d));
		c.stderr.on('data', (d) => (err += d));
		c.on('error', reject);
		c.on('close', (code) => {
			let j = null;
			try {
				j = JSON.parse(out.trim().split('\n').pop());
			} catch {}
			if (/ERROR: (Address|Undefined|Leak)Sanitizer|runtime error:/.test(err))
				return reject(new Error(`sanitizer report from email_send:\n${err}`));
			resolve({ code, out: j, raw: out, stderr: err });
		});
		c.stdin.end(JSON.stringify(msg));
	});
}

function base(port, extra = {}) {
	return {
		smtp: { host: '127.0.0.1', port, timeout_ms: 10000, ...(extra.smtp || {}) },
		from: 'IRISX <noreply@sender.example.test>',
		to: ['Alice <alice@example.test>'],
		subject: 'Your verification code',
		text: 'Your code is 123456.\n',
		date_us: Date.UTC(2026, 0, 2, 3, 4, 5) * 1000,
		...extra,
		...(extra.smtp ? { smtp: { host: '127.0.0.1', port, timeout_ms: 10000, ...extra.smtp } } : {}),
	};
}

async function withSink(opts, fn) {
	const sink = await startSmtpSink(opts);
	try {
		return await fn(sink);
	} finally {
		await sink.close();
	}
}

async function waitMails(sink, n, ms = 5000) {
	const end = Date.now() + ms;
	while (sink.mails.length < n && Date.now() < end)
		await sleep(10);
	assert.equal(sink.mails.length, n, `mails received: ${sink.mails.length}`);
}

/* Every line of the raw message ends in CRLF and none is longer than 998; header lines
   stay at or under 78. */
function checkLines(raw) {
	assert.ok(!/[^\r]\n/.test(raw) && !/\r[^\n]/.test(raw), 'bare CR or LF in the message');
	const lines = raw.split('\r\n');
	const head = lines.slice(0, lines.indexOf(''));
	for (const l of lines)
		assert.ok(l.length <= 998, `line of ${l.length}`);
	for (const l of head)
		assert.ok(l.length <= 78, `header line of ${l.length}: ${l}`);
}

test('plain text: envelope, headers and body as mailparser reads them; EHLO is the sender domain', async () => {
	await withSink({}, async (sink) => {
		const r = await send(base(sink.port));
		assert.equal(r.code, 0, r.raw + r.stderr);
		assert.equal(r.out.rc, 0);
		assert.equal(r.out.code, 250);
		assert.equal(r.out.permanent, false);
		await waitMails(sink, 1);
		const m = sink.mails[0];
		assert.equal(m.envFrom, 'noreply@sender.example.test');
		assert.deepEqual(m.envTo, ['alice@example.test']);
		assert.equal(m.helo, 'sender.example.test');
		assert.deepEqual(m.from, [{ name: 'IRISX', address: 'noreply@sender.example.test' }]);
		assert.deepEqual(m.to, [{ name: 'Alice', address: 'alice@example.test' }]);
		assert.equal(m.subject, 'Your verification code');
		assert.equal(m.text, 'Your code is 123456.\n');
		assert.equal(m.html, null);
		assert.equal(m.headers.date, 'Fri, 02 Jan 2026 03:04:05 +0000');
		assert.equal(m.headers['mime-version'], '1.0');
		assert.match(m.messageId, /^<em[0-9a-f]{32}@sender\.example\.test>$/);
		assert.match(m.headers['content-type'], /^text\/plain; charset=utf-8/);
		checkLines(m.raw);
	});
});

test('html + text: multipart/alternative, text first, both decoded exactly; long lines survive', async () => {
	const long = 'word '.repeat(400).trim(); // a 1,999-character line: soft breaks in QP
	const html = `<!doctype html><p style="color:red">Hello &amp; welcome, <b>Zoë</b> = 100%</p>\n<p>${long}</p>\n`;
	await withSink({}, async (sink) => {
		const r = await send(base(sink.port, { text: `Hello & welcome, Zoë = 100%\n.\n${long}\n`, html, message_id: '<fixed-1@sender.example.test>' }));
		assert.equal(r.out?.rc, 0, r.raw + r.stderr);
		await waitMails(sink, 1);
		const m = sink.mails[0];
		assert.equal(m.text, `Hello & welcome, Zoë = 100%\n.\n${long}\n`);
		assert.equal(m.html, html);
		assert.equal(m.messageId, '<fixed-1@sender.example.test>');
		assert.match(m.headers['content-type'], /^multipart\/alternative; boundary="=_irx_[0-9a-f]{24}"$/);
		assert.ok(m.raw.indexOf('Content-Type: text/plain') < m.raw.indexOf('Content-Type: text/html'));
		checkLines(m.raw);
	});
});

test('unicode subject and display names: encoded-words decode back exactly, headers folded', async () => {
	const subject = 'Ünïcödé — 日本語の件名とても長いものです、折り返しが必要です 🎉🎉 and some more ASCII words at the end';
	await withSink({}, async (sink) => {
		const r = await send(base(sink.port, {
			from: 'Zoë Müller <zoe@sender.example.test>',
			to: ['山田 太郎 <taro@example.test>', '"Doe, John \\"JD\\"" <john@example.test>', 'plain@example.test'],
			cc: ['Ωmega Ünit 💌 with a display name that is long enough to need more than one encoded word <cc@example.test>'],
			reply_to: 'Support Désk <support@sender.example.test>',
			subject,
			text: 'Grüße aus Köln — 你好世界 🙂\n',
		}));
		assert.equal(r.out?.rc, 0, r.raw + r.stderr);
		await waitMails(sink, 1);
		const m = sink.mails[0];
		assert.equal(m.subject, subject);
		assert.deepEqual(m.from, [{ name: 'Zoë Müller', address: 'zoe@sender.example.test' }]);
		assert.deepEqual(m.to, [
			{ name: '山田 太郎', address: 'taro@example.test' },
			{ name: 'Doe, John "JD"', address: 'john@example.test' },
			{ name: '', address: 'plain@example.test' },
		]);
		assert.deepEqual(m.cc, [{ name: 'Ωmega Ünit 💌 with a display name that is long enough to need more than one encoded word', address: 'cc@example.test' }]);
		assert.deepEqual(m.replyTo, [{ name: 'Support Désk', address: 'support@sender.example.test' }]);
		assert.equal(m.text, 'Grüße aus Köln — 你好世界 🙂\n');
		assert.match(m.raw, /^Subject: =\?UTF-8\?B\?/m);
		checkLines(m.raw);
	});
});

test('attachments: binary with NULs, a UTF-8 file name, an empty file; checked by sha256', async () => {
	const bin = crypto.randomBytes(300 * 1024);
	bin.fill(0, 1000, 3000);
	const pdf = Buffer.from('%PDF-1.4\n\0\0\0 not really a pdf\n');
	const files = [
		{ filename: 'data.bin', content_type: 'application/octet-stream', buf: bin },
		{ filename: 'résumé — Zoë Müller, version finale (2026) très longue.pdf', content_type: 'application/pdf', buf: pdf },
		{ filename: 'empty.txt', content_type: 'text/plain', buf: Buffer.alloc(0) },
	];
	await withSink({}, async (sink) => {
		const r = await send(base(sink.port, {
			html: '<p>see attached</p>',
			attachments: files.map((f) => ({ filename: f.filename, content_type: f.content_type, data_b64: f.buf.toString('base64') })),
		}));
		assert.equal(r.out?.rc, 0, r.raw + r.stderr);
		await waitMails(sink, 1);
		const m = sink.mails[0];
		assert.match(m.headers['content-type'], /^multipart\/mixed; boundary=/);
		assert.equal(m.text, 'Your code is 123456.\n');
		assert.equal(m.html, '<p>see attached</p>');
		assert.equal(m.attachments.length, 3);
		files.forEach((f, i) => {
			const a = m.attachments[i];
			assert.equal(a.filename, f.filename);
			assert.equal(a.contentType, f.content_type);
			assert.equal(a.disposition, 'attachment');
			assert.equal(a.size, f.buf.length);
			assert.equal(a.sha256, crypto.createHash('sha256').update(f.buf).digest('hex'));
		});
		// base64 bodies in lines of 76
		const b64 = m.raw.split('\r\n').filter((l) => /^[A-Za-z0-9+/]{76}$/.test(l));
		assert.ok(b64.length >= 4000, `${b64.length} full base64 lines`);
		checkLines(m.raw);
	});
});

test('cc and several recipients: every one in the envelope, bcc never in a header', async () => {
	await withSink({}, async (sink) => {
		const r = await send(base(sink.port, {
			to: ['a@example.test', 'B <b@example.test>'],
			cc: ['c@example.test'],
			bcc: ['hidden@example.test'],
		}));
		assert.equal(r.out?.rc, 0, r.raw + r.stderr);
		await waitMails(sink, 1);
		const m = sink.mails[0];
		assert.deepEqual(m.envTo, ['a@example.test', 'b@example.test', 'c@example.test', 'hidden@example.test']);
		assert.deepEqual(m.to.map((x) => x.address), ['a@example.test', 'b@example.test']);
		assert.deepEqual(m.cc.map((x) => x.address), ['c@example.test']);
		assert.ok(!/hidden/.test(m.raw), 'bcc address in the message');
	});
});

test('AUTH: right credentials accepted (PLAIN or LOGIN), wrong ones a permanent 535', async () => {
	await withSink({ auth: { user: 'u1', pass: 'p@ss w0rd' } }, async (sink) => {
		let r = await send(base(sink.port, { smtp: { username: 'u1', password: 'p@ss w0rd' } }));
		assert.equal(r.out?.rc, 0, r.raw + r.stderr);
		await waitMails(sink, 1);
		assert.equal(sink.mails[0].user, 'u1');
		r = await send(base(sink.port, { smtp: { username: 'u1', password: 'wrong' } }));
		assert.equal(r.code, 1);
		assert.equal(r.out.code, 535);
		assert.equal(r.out.permanent, true);
		// no credentials where AUTH is required: the server refuses MAIL (530), permanent
		r = await send(base(sink.port));
		assert.equal(r.code, 1);
		assert.equal(r.out.code, 530, r.raw);
		assert.equal(r.out.permanent, true);
		assert.equal(sink.mails.length, 1);
	});
});

test('STARTTLS: the mail arrives over TLS with AUTH; a self-signed certificate fails verification (temporary)', async () => {
	await withSink({ starttls: true, auth: { user: 'tls', pass: 'secret' } }, async (sink) => {
		let r = await send(base(sink.port, { smtp: { tls: 'starttls', verify_peer: false, username: 'tls', password: 'secret' } }));
		assert.equal(r.out?.rc, 0, r.raw + r.stderr);
		await waitMails(sink, 1);
		assert.equal(sink.mails[0].tls, true);
		assert.equal(sink.mails[0].user, 'tls');
		r = await send(base(sink.port, { smtp: { tls: 'starttls', verify_peer: true, username: 'tls', password: 'secret' } }));
		assert.equal(r.code, 1);
		assert.equal(r.out.code, 0);
		assert.equal(r.out.permanent, false);
		assert.match(r.out.text, /certificate|SSL/i);
		assert.equal(sink.mails.length, 1);
	});
	// STARTTLS asked of a server that does not offer it: refused, nothing sent in clear
	await withSink({}, async (sink) => {
		const r = await send(base(sink.port, { smtp: { tls: 'starttls', verify_peer: false } }));
		assert.equal(r.code, 1);
		assert.equal(r.out.permanent, false);
		await sleep(100);
		assert.equal(sink.mails.length, 0);
	});
});

test('replies per recipient: 451 temporary, 550 permanent, with the server text; nothing half-sent', async () => {
	await withSink({ replies: { 'temp@example.test': 451, 'perm@example.test': 550 } }, async (sink) => {
		let r = await send(base(sink.port, { to: ['temp@example.test'] }));
		assert.equal(r.code, 1);
		assert.deepEqual([r.out.rc, r.out.code, r.out.permanent], [-5, 451, false]);
		assert.match(r.out.text, /^451 .*try again later for temp@example\.test/);
		r = await send(base(sink.port, { to: ['perm@example.test'] }));
		assert.deepEqual([r.out.rc, r.out.code, r.out.permanent], [-5, 550, true]);
		assert.match(r.out.text, /^550 .*mailbox unavailable/);
		r = await send(base(sink.port, { to: ['ok@example.test', 'perm@example.test'] }));
		assert.deepEqual([r.out.code, r.out.permanent], [550, true]);
		await sleep(100);
		assert.equal(sink.mails.length, 0);
		r = await send(base(sink.port, { to: ['ok@example.test'] }));
		assert.equal(r.out.code, 250);
		await waitMails(sink, 1);
	});
});

test('connection refused: temporary, code 0, the transport error as text', async () => {
	const port = await freePort();
	const r = await send(base(port, { smtp: { timeout_ms: 3000 } }));
	assert.equal(r.code, 1);
	assert.deepEqual([r.out.rc, r.out.code, r.out.permanent], [-5, 0, false]);
	assert.match(r.out.text, /connect|refused/i);
});

test('refused before sending: header injection and bad addresses never reach the server', async () => {
	await withSink({}, async (sink) => {
		for (const bad of [{ subject: 'hi\r\nBcc: victim@example.test' }, { to: ['a@example.test\r\nX: y'] }, { from: 'not an address' }]) {
			const r = await send(base(sink.port, bad));
			assert.equal(r.code, 2, JSON.stringify(bad));
			assert.deepEqual(r.out, { build: -22 });
		}
		await sleep(100);
		assert.equal(sink.mails.length, 0);
	});
});

/* postfix smtp-sink on a free port, dumping each mail to its own file; as root it must drop
   to nobody (-u), so the dump folder belongs to nobody. */
async function postfixSink(extra = []) {
	const bin = ['/usr/sbin/smtp-sink', '/usr/lib/postfix/sbin/smtp-sink'].find((p) => fs.existsSync(p));
	if (!bin)
		return null;
	const dir = tmpDir('smtp-sink');
	fs.chmodSync(dir, 0o777);
	const port = await freePort();
	const asRoot = process.getuid && process.getuid() === 0;
	const args = [...(asRoot ? ['-u', 'nobody'] : []), '-d', `${dir}/%M.`, '-h', 'postfix-sink.test', ...extra, `127.0.0.1:${port}`, '10'];
	const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
	let err = '';
	child.stderr.on('data', (d) => (err += d));
	for (let i = 0; i < 100; i++) {
		const ok = spawnSync('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]).status === 0;
		if (ok)
			break;
		await sleep(20);
	}
	return {
		port,
		dir,
		files: () => fs.readdirSync(dir).map((f) => path.join(dir, f)),
		async stop() {
			child.kill('SIGTERM');
			await new Promise((r) => (child.exitCode !== null || child.signalCode ? r() : child.on('exit', r)));
			rmDir(dir);
			return err;
		},
	};
}

test('postfix smtp-sink, a second implementation: plain text and unicode arrive as sent; forced 4xx and 5xx', async (t) => {
	const { simpleParser } = require('mailparser');
	const pf = await postfixSink();
	if (!pf)
		return t.skip('postfix smtp-sink not installed (scripts/deps.sh)');
	try {
		const r = await send(base(pf.port, { cc: ['Zoë <zoe@example.test>'], subject: 'Postfix — ünïcödé', text: 'Hello from IRISX\n.\n..\nend\n' }));
		assert.equal(r.out?.rc, 0, r.raw + r.stderr);
		assert.equal(r.out.code, 250);
		let files = [];
		for (let i = 0; i < 100 && !(files = pf.files()).length; i++)
			await sleep(20);
		assert.equal(files.length, 1);
		let dump = fs.readFileSync(files[0]);
		dump = dump.subarray(0, dump.length - 1); // the dump format ends each mail with an empty line
		assert.match(dump.toString(), /^X-Helo-Args: sender\.example\.test$/m);
		assert.match(dump.toString(), /^X-Mail-Args: <noreply@sender\.example\.test/m);
		assert.match(dump.toString(), /^X-Rcpt-Args: <alice@example\.test/m);
		assert.match(dump.toString(), /^X-Rcpt-Args: <zoe@example\.test/m);
		const m = await simpleParser(dump);
		assert.equal(m.subject, 'Postfix — ünïcödé');
		assert.equal(m.text, 'Hello from IRISX\n.\n..\nend\n'); // dot-stuffing undone by the server
		assert.equal(m.cc.value[0].name, 'Zoë');
	} finally {
		await pf.stop();
	}
	const soft = await postfixSink(['-r', 'RCPT', '-b', '452 4.2.2 mailbox full']);
	try {
		const r = await send(base(soft.port));
		assert.deepEqual([r.out.code, r.out.permanent], [452, false], r.raw);
		assert.match(r.out.text, /^452 4\.2\.2 mailbox full/);
	} finally {
		await soft.stop();
	}
	const hard = await postfixSink(['-f', 'RCPT', '-B', '550 5.1.1 no such user']);
	try {
		const r = await send(base(hard.port));
		assert.deepEqual([r.out.code, r.out.permanent], [550, true], r.raw);
		assert.match(r.out.text, /^550 5\.1\.1 no such user/);
		assert.equal(hard.files().length, 0);
	} finally {
		await hard.stop();
	}
});
