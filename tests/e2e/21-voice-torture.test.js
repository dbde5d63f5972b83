// 21-voice-torture: the 49 RFC 4475 torture messages (../shared/corpora/sip/rfc4475) sent to the
// voice engine over UDP and TCP: it never crashes or hangs, and answers OPTIONS and takes a
// normal call right after.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { repoRoot, sleep } = require('./lib/harness');
const { Uas, sipp, udpExchange, options } = require('./lib/voice');

const CORPUS = path.join(repoRoot, '..', 'shared', 'corpora', 'sip', 'rfc4475');

function corpus() {
	if (!fs.existsSync(CORPUS))
		return null;
	return fs
		.readdirSync(CORPUS)
		.filter((f) => f.endsWith('.dat'))
		.sort()
		.map((f) => ({ name: f, data: fs.readFileSync(path.join(CORPUS, f)) }));
}

function tcpSend(port, data) {
	return new Promise((resolve) => {
		const s = net.connect({ port, host: '127.0.0.1' });
		const done = () => {
			s.destroy();
			resolve();
		};
		s.on('error', done);
		s.on('connect', () => s.write(data, () => setTimeout(done, 100)));
		setTimeout(done, 2000);
	});
}

async function alive(uas, what) {
	assert.ok(uas.alive(), `engine died after ${what}:\n${uas.err.slice(-3000)}`);
	const r = await udpExchange(uas.port, options(uas.port), 1500);
	assert.ok(r.some((m) => /^SIP\/2.0 200 OK/.test(m)), `no 200 to OPTIONS after ${what}: ${JSON.stringify(r)}`);
}

test('RFC 4475 torture messages over UDP and TCP, then a normal call', async (t) => {
	const msgs = corpus();
	if (!msgs)
		return t.skip(`corpus not found at ${CORPUS}`);
	assert.equal(msgs.length, 49);
	const uas = await new Uas(['--rtp-min', '41000', '--rtp-max', '41199', '--max-calls', '100']).start();
	try {
		for (const m of msgs) {
			await udpExchange(uas.port, m.data, 30);
			assert.ok(uas.alive(), `engine died on ${m.name} (UDP):\n${uas.err.slice(-3000)}`);
		}
		await alive(uas, 'the UDP run');
		for (const m of msgs) {
			await tcpSend(uas.port, m.data);
			assert.ok(uas.alive(), `engine died on ${m.name} (TCP):\n${uas.err.slice(-3000)}`);
		}
		await alive(uas, 'the TCP run');
		const r = await sipp(uas, { calls: 2, rate: 2, hold: 500, rtpEcho: true });
		assert.equal(r.ok, 2, r.describe());
		await sleep(100);
		await alive(uas, 'the calls');
	} catch (e) {
		await uas.kill();
		e.message += `\n--- voice_uas stdout:\n${uas.out.slice(-3000)}`;
		throw e;
	}
	const stats = await uas.stop();
	assert.equal(stats.dropped, 0);
});
