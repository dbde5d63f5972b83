// wh_receiver.js: the webhook receiver of bench/webhooks.sh: answers 204 and records, per
// webhook-id, when it first arrived and the event's own timestamp (body.timestamp).
//   node bench/wh_receiver.js PORT
// POST /_reset clears what was recorded; POST /_report {"secret": "whsec_..."} answers a
// summary (counts, first/last arrival, latency percentiles) and checks the Standard
// Webhooks signature of the first deliveries with that secret. POST /_hold: deliveries are
// recorded but not answered (the sender's in-flight window fills, the rest queues up);
// POST /_release answers them and every later one at once (a backlog drains from then
// on: after_release counts what arrives after it). Listens on 127.0.0.1 only.
'use strict';

const crypto = require('node:crypto');
const http = require('node:http');

const SAMPLES = 200; // deliveries kept whole for the signature check

let seen; // webhook-id -> true
let lat; // event timestamp -> receipt, microseconds, one per unique id
let samples, received, dups, firstUs, lastUs, badTs;
let held = null; // responses not answered yet while holding
let releaseUs, afterRelease;

function reset() {
	seen = new Set();
	lat = [];
	samples = [];
	received = dups = badTs = 0;
	firstUs = lastUs = 0;
	releaseUs = afterRelease = 0;
}
reset();

// Wall clock in microseconds (performance.now() has sub-millisecond resolution).
function nowUs() {
	return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

// RFC 3339 with a fraction, e.g. 2026-12-01T08:21:36.123456Z -> microseconds since epoch.
function rfc3339Us(s) {
	const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(s || '');
	if (!m)
		return NaN;
	const frac = (m[2] || '').padEnd(6, '0').slice(0, 6);
	return Date.parse(m[1] + 'Z') * 1000 + Number(frac);
}

function onHook(req, body, t) {
	received++;
	const id = req.headers['webhook-id'];
	if (!firstUs)
		firstUs = t;
	lastUs = t;
	if (releaseUs)
		afterRelease++;
	if (seen.has(id)) {
		dups++;
		return;
	}
	seen.add(id);
	let ts = NaN;
	try {
		ts = rfc3339Us(JSON.parse(body).timestamp);
	} catch {}
	if (Number.isFinite(ts))
		lat.push(t - ts);
	else
		badTs++;
	if (samples.length < SAMPLES)
		samples.push({
			id,
			timestamp: req.headers['webhook-timestamp'],
			signature: req.headers['webhook-signature'],
			body,
		});
}

// Standard Webhooks: base64 HMAC-SHA256 over "id.timestamp.body", key = base64 after whsec_.
function signatureOk(secret, s) {
	const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
	const want = crypto.createHmac('sha256', key).update(`${s.id}.${s.timestamp}.${s.body}`).digest();
	return String(s.signature || '')
		.split(' ')
		.some((v) => {
			const [ver, b64] = v.split(',');
			const got = Buffer.from(b64 || '', 'base64');
			return ver === 'v1' && got.length === want.length && crypto.timingSafeEqual(got, want);
		});
}

function pct(sorted, p) {
	if (!sorted.length)
		return null;
	return sorted[Math.min(sorted.length - 1, Math.round(p * (sorted.length - 1)))] / 1000;
}

function report(secret) {
	const sorted = Float64Array.from(lat).sort();
	const checked = secret ? samples.length : 0;
	const ok = secret ? samples.filter((s) => signatureOk(secret, s)).length : 0;
	return {
		received,
		unique: seen.size,
		dups,
		bad_timestamp: badTs,
		first_us: firstUs,
		last_us: lastUs,
		p50_ms: pct(sorted, 0.5),
		p99_ms: pct(sorted, 0.99),
		max_ms: pct(sorted, 1),
		release_us: releaseUs,
		after_release: afterRelease,
		sig_checked: checked,
		sig_ok: ok,
	};
}

const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		const t = nowUs();
		const body = Buffer.concat(chunks).toString('utf8');
		if (req.url === '/_reset' && req.method === 'POST') {
			reset();
			res.writeHead(204).end();
		} else if (req.url === '/_report' && req.method === 'POST') {
			let secret = '';
			try {
				secret = JSON.parse(body || '{}').secret || '';
			} catch {}
			res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(report(secret)));
		} else if (req.url === '/_hold' && req.method === 'POST') {
			held = held || [];
			res.writeHead(204).end();
		} else if (req.url === '/_release' && req.method === 'POST') {
			releaseUs = nowUs();
			const list = held || [];
			held = null;
			for (const h of list)
				h.writeHead(204).end();
			res.writeHead(200).end(String(list.length));
		} else if (req.url === '/_ready') {
			res.writeHead(200).end('ok');
		} else {
			onHook(req, body, t);
			if (held)
				held.push(res);
			else
				res.writeHead(204).end();
		}
	});
});
server.keepAliveTimeout = 60000;
server.listen(Number(process.argv[2]), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
