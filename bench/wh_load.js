// wh_load.js: the load generator of bench/webhooks.sh: POST /v1/webhooks/{id}/test over
// keep-alive connections, either a burst as fast as the API takes it or at a paced rate.
//   node bench/wh_load.js BASE KEY ENDPOINT_ID burst N [CONNS] [LIMIT_S]
//   node bench/wh_load.js BASE KEY ENDPOINT_ID rate R SECONDS [CONNS] [LIMIT_S]
// Prints one JSON line: {sent, accepted (202s), statuses, errors, elapsed_s, rate}.
// Bounded in count and in time (LIMIT_S, default 60): what is not sent by then is not sent.
'use strict';

const http = require('node:http');

const [base, key, ep, mode, a1, a2, a3, a4] = process.argv.slice(2);
const paced = mode === 'rate';
const total = paced ? Number(a1) * Number(a2) : Number(a1);
const conns = Number((paced ? a3 : a2) || 64);
const limitMs = 1000 * Number((paced ? a4 : a3) || 60);
if (!base || !key || !ep || !['burst', 'rate'].includes(mode) || !(total > 0)) {
	console.error('usage: wh_load.js BASE KEY ENDPOINT_ID burst N [CONNS] [LIMIT_S] | rate R SECONDS [CONNS] [LIMIT_S]');
	process.exit(2);
}

const url = new URL(`/v1/webhooks/${ep}/test`, base);
const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
const statuses = {};
let sent = 0, accepted = 0, errors = 0, done = 0;
const t0 = performance.now();
const timeUp = () => performance.now() - t0 > limitMs;

function one() {
	sent++;
	return new Promise((resolve) => {
		const req = http.request(
			{
				agent,
				host: url.hostname,
				port: url.port,
				path: url.pathname,
				method: 'POST',
				headers: { authorization: `Bearer ${key}`, 'content-length': 0 },
				timeout: 10000,
			},
			(res) => {
				res.resume();
				res.on('end', () => {
					statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1;
					if (res.statusCode === 202)
						accepted++;
					done++;
					resolve();
				});
			},
		);
		req.on('timeout', () => req.destroy(new Error('timeout')));
		req.on('error', () => {
			errors++;
			done++;
			resolve();
		});
		req.end();
	});
}

async function burst() {
	const worker = async () => {
		while (sent < total && !timeUp())
			await one();
	};
	await Promise.all(Array.from({ length: conns }, worker));
}

async function rate() {
	const r = Number(a1);
	const pending = [];
	while (sent < total && !timeUp()) {
		const due = Math.min(total, Math.floor(((performance.now() - t0) * r) / 1000) + 1);
		while (sent < due)
			pending.push(one());
		await new Promise((res) => setTimeout(res, 1));
	}
	await Promise.all(pending);
}

(paced ? rate() : burst()).then(() => {
	const elapsed = (performance.now() - t0) / 1000;
	console.log(JSON.stringify({ sent, accepted, statuses, errors, elapsed_s: elapsed, rate: accepted / elapsed }));
	agent.destroy();
});
