// 24-voice-outbound: the engine (tests/voice/voice_uas) dialling SIPp as a carrier on
// 127.0.0.1: 486, 503 (also with Retry-After: reason phrase and retry_after in the event) and
// 408-like no answer (our timeout + CANCEL) from the far end, and an INVITE challenged with
// 401 answered with the dial's digest credentials.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { Uas, sippServer } = require('./lib/voice');

const RTP = ['--rtp-min', '40400', '--rtp-max', '40499', '--max-calls', '20'];

async function dialTo(far, args, until) {
	const uas = await new Uas([...RTP, '--dial', `sip:carrier@127.0.0.1:${far.port}`, ...args]).start();
	try {
		await uas.waitFor(until, 15000);
		const r = await far.done;
		await uas.stop();
		return { uas, r };
	} catch (e) {
		await uas.kill();
		far.kill();
		e.message += `\n--- voice_uas:\n${uas.out.slice(-2000)}\n${uas.err.slice(-1500)}`;
		throw e;
	}
}

for (const code of [486, 503]) {
	test(`the carrier refuses with ${code}: reported as rejected with its code`, async () => {
		const far = await sippServer({ scenario: `uas_${code}.xml` });
		const { uas, r } = await dialTo(far, [], new RegExp(`HANGUP call=\\d+ code=${code} cause=rejected`));
		assert.equal(r.ok, 1, r.describe());
		assert.equal(uas.lines(/^HANGUP .*retry_after=/).length, 0, uas.out); // none was sent
	});
}

test('a 503 with Retry-After: 30 reports the reason phrase and retry_after=30', async () => {
	const far = await sippServer({ scenario: 'uas_503_retry.xml' });
	const { uas, r } = await dialTo(far, [], /HANGUP call=\d+ code=503 cause=rejected/);
	assert.equal(r.ok, 1, r.describe());
	assert.equal(uas.lines(/^HANGUP .*code=503 cause=rejected reason="Service Unavailable" retry_after=30$/).length, 1, uas.out);
});

test('the carrier never answers: our timeout cancels (408, CANCEL, 487 absorbed)', async () => {
	const far = await sippServer({ scenario: 'uas_noanswer.xml' });
	const { uas, r } = await dialTo(far, ['--dial-timeout', '1500'], /HANGUP call=\d+ code=408 cause=timeout/);
	assert.equal(r.ok, 1, r.describe());
	assert.ok(uas.lines(/^PROGRESS .*code=180/).length >= 1, uas.out);
});

test('a 401 on the INVITE is answered with the digest credentials of the dial', async () => {
	const far = await sippServer({ scenario: 'uas_auth.xml' });
	const { uas, r } = await dialTo(
		far,
		['--auth-user', 'trunkuser', '--auth-pass', 'trunkpass', '--hangup-after', '500'],
		/HANGUP call=\d+ code=0 cause=local/
	);
	assert.equal(r.ok, 1, r.describe());
	assert.equal(uas.lines(/^ANSWERED /).length, 1, uas.out);
});

test('wrong credentials: the carrier refuses (403), no answer', async () => {
	const far = await sippServer({ scenario: 'uas_auth.xml' });
	const { uas } = await dialTo(far, ['--auth-user', 'trunkuser', '--auth-pass', 'bad'], /HANGUP call=\d+ code=403 cause=rejected/);
	assert.equal(uas.lines(/^ANSWERED /).length, 0, uas.out);
});
