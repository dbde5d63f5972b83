// 26-voice-cps: call rate, sharded as bench/voice_cps.sh does it: by process (two engines, each
// with its own SIP stack on its own port) and inside one engine (two signalling stacks, one
// port each), each port fed by its own SIPp. Every call is answered, plays a short prompt, and
// the engine hangs up on PLAY_DONE (its BYE, SIPp's 200). Bounded: 2 x 500 calls at 100
// calls/s per port in each test, about 6 s each.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { Uas, sipp } = require('./lib/voice');

const CALLS = 500;
const RATE = 100;

function engine(i) {
	const min = 41000 + 2000 * i;
	return new Uas(['--rtp-min', String(min), '--rtp-max', String(min + 1999), '--max-calls', '900',
		'--no-tcp', '--prompt-ms', '200', '--hangup-after-play']).start();
}

test('two engines, 100 calls/s each: every call answered, prompt played, hung up by the engine', async () => {
	const uas = await Promise.all([engine(0), engine(1)]);
	try {
		const runs = await Promise.all(uas.map((u) =>
			sipp(u, { scenario: 'uac_wait_bye.xml', calls: CALLS, rate: RATE, timeout: 25, extra: ['-l', '1000'] })));
		for (const r of runs) {
			assert.equal(r.ok, CALLS, r.describe());
			assert.equal(r.failed, 0, r.describe());
		}
		const deadline = Date.now() + 10000;
		while (uas.some((u) => u.lines(/^HANGUP .*cause=local$/).length < CALLS) && Date.now() < deadline)
			await new Promise((res) => setTimeout(res, 100));
	} catch (e) {
		for (const u of uas) {
			await u.kill();
			e.message += `\n--- voice_uas stdout:\n${u.out.slice(-2000)}\n--- stderr:\n${u.err.slice(-2000)}`;
		}
		throw e;
	}
	for (const u of uas) {
		const stats = await u.stop();
		assert.equal(u.lines(/^PLAY_DONE .*code=0$/).length, CALLS);
		assert.equal(u.lines(/^HANGUP .*cause=local$/).length, CALLS);
		assert.equal(stats.calls, 0);
		assert.ok(stats.tx >= CALLS * 8, `tx ${stats.tx}`); // 200 ms = 10 frames per call
	}
});

// One engine with two signalling stacks (voice_uas --sig-threads 2): one SIPp per stack's
// port at 100 calls/s each, 1000 calls in all; the HANGUPs show both stacks took calls.
test('one engine, two signalling stacks, 100 calls/s per port: every call answered, played, hung up', async () => {
	const u = await new Uas(['--port', '0', '--sig-threads', '2', '--rtp-min', '45000', '--rtp-max', '48999',
		'--max-calls', '1900', '--no-tcp', '--prompt-ms', '200', '--hangup-after-play']).start();
	try {
		assert.equal(u.ports.length, 2, u.out);
		assert.notEqual(u.ports[0], u.ports[1]);
		const runs = await Promise.all(u.ports.map((port) =>
			sipp(u, { port, scenario: 'uac_wait_bye.xml', calls: CALLS, rate: RATE, timeout: 25, extra: ['-l', '1000'] })));
		for (const r of runs) {
			assert.equal(r.ok, CALLS, r.describe());
			assert.equal(r.failed, 0, r.describe());
		}
		const deadline = Date.now() + 10000;
		while (u.lines(/^HANGUP .*cause=local$/).length < 2 * CALLS && Date.now() < deadline)
			await new Promise((res) => setTimeout(res, 100));
	} catch (e) {
		await u.kill();
		e.message += `\n--- voice_uas stdout:\n${u.out.slice(-2000)}\n--- stderr:\n${u.err.slice(-2000)}`;
		throw e;
	}
	const stats = await u.stop();
	assert.equal(u.lines(/^PLAY_DONE .*code=0$/).length, 2 * CALLS);
	const hangups = u.lines(/^HANGUP .*cause=local$/);
	assert.equal(hangups.length, 2 * CALLS);
	// a call id carries its stack from bit 48 up: each stack owned the calls of its port
	const perStack = [0, 0];
	for (const l of hangups)
		perStack[Number(BigInt(/call=(\d+)/.exec(l)[1]) >> 48n)]++;
	assert.deepEqual(perStack, [CALLS, CALLS]);
	assert.equal(stats.calls, 0);
	assert.ok(stats.tx >= 2 * CALLS * 8, `tx ${stats.tx}`);
});
