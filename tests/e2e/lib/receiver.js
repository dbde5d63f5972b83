// receiver.js: a webhook receiver on 127.0.0.1 for the tests: records every request (time,
// method, url, headers, raw body) and answers as the test's behave(req, n) says:
// {status, headers, body, delayMs, hang (never answer), destroy (drop the connection)}.
'use strict';

const http = require('node:http');

async function startReceiver(behave = () => ({ status: 204 })) {
	const seen = [];
	const sockets = new Set();
	let connections = 0;
	const srv = http.createServer((req, res) => {
		const chunks = [];
		req.on('data', (d) => chunks.push(d));
		req.on('end', () => {
			const body = Buffer.concat(chunks).toString('utf8');
			const rec = { at: Date.now(), method: req.method, url: req.url, path: req.url.split('?')[0], headers: req.headers, body };
			seen.push(rec);
			const n = seen.filter((r) => r.path === rec.path).length;
			const a = rt.behave(rec, n) || { status: 204 };
			rec.status = a.hang || a.destroy ? 0 : a.status || 204; // what we answered
			if (a.hang)
				return;
			if (a.destroy)
				return req.socket.destroy();
			const go = () => {
				res.writeHead(a.status || 204, a.headers || {});
				res.end(a.body || '');
			};
			a.delayMs ? setTimeout(go, a.delayMs) : go();
		});
	});
	srv.keepAliveTimeout = 30000;
	srv.on('connection', (s) => {
		connections++;
		sockets.add(s);
		s.on('close', () => sockets.delete(s));
	});
	await new Promise((r) => srv.listen(0, '127.0.0.1', r));
	const rt = {
		behave,
		seen,
		port: srv.address().port,
		get connections() {
			return connections;
		},
		url(p = '/hook') {
			return `http://127.0.0.1:${this.port}${p}`;
		},
		on(path) {
			return seen.filter((r) => r.path === path);
		},
		/* webhook-ids answered with a 2xx on path */
		okIds(path) {
			return new Set(seen.filter((r) => r.path === path && r.status >= 200 && r.status < 300).map((r) => r.headers['webhook-id']));
		},
		async waitFor(pred, ms = 20000, what = 'condition') {
			const end = Date.now() + ms;
			while (Date.now() < end) {
				if (pred())
					return;
				await new Promise((r) => setTimeout(r, 20));
			}
			throw new Error(`receiver: timed out waiting for ${what} (${seen.length} requests seen)`);
		},
		close() {
			for (const s of sockets)
				s.destroy();
			return new Promise((r) => srv.close(() => r()));
		},
	};
	return rt;
}

module.exports = { startReceiver };
