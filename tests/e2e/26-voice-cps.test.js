// 26-voice-cps: call rate, sharded by process as bench/voice_cps.sh does it: two engines, each
// with its own SIP stack on its own port, each fed by its own SIPp. Every call is answered,
// plays a short prompt, and the engine hangs up on PLAY_DONE (its BYE, SIPp's 200). Bounded:
// 2 x 500 calls at 100 calls/s each, about 6 s.
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
