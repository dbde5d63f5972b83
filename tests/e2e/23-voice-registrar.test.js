// 23-voice-registrar: SIPp registers as a device with digest auth ([authentication]); the
// engine then dials device:alice and reaches the SIPp UAS at the registered contact.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { Uas, sipp, sippServer } = require('./lib/voice');

/* SIPp exits 254 when a neighbour of its free media port is taken: try again. */
async function sippRetry(uas, o) {
	let r;
	for (let i = 0; i < 4; i++) {
		r = await sipp(uas, o);
		if (r.code !== 254)
			break;
	}
	return r;
}

test('REGISTER with digest auth, then a call to the device reaches its contact', async () => {
	const phone = await sippServer({ scenario: 'uas_auth.xml', timeout: 15 });
	const uas = await new Uas(['--rtp-min', '40500', '--rtp-max', '40599', '--max-calls', '10',
		'--user', 'alice:secret', '--dial-on-register', '--hangup-after', '500',
		'--auth-user', 'trunkuser', '--auth-pass', 'trunkpass']).start();
	try {
		const r = await sippRetry(uas, {
			scenario: 'uac_register.xml', service: 'alice', timeout: 10,
			extra: ['-key', 'contact_port', String(phone.port), '-au', 'alice', '-ap', 'secret'],
		});
		assert.equal(r.ok, 1, r.describe());
		await uas.waitFor(new RegExp(`DEVICE user=alice contact=sip:alice@127.0.0.1:${phone.port} expires=120`));
		await uas.waitFor(/HANGUP call=\d+ code=0 cause=local/, 10000);
		const p = await phone.done;
		assert.equal(p.ok, 1, p.describe());
	} catch (e) {
		await uas.kill();
		phone.kill();
		e.message += `\n--- voice_uas:\n${uas.out.slice(-2000)}\n${uas.err.slice(-1500)}`;
		throw e;
	}
	const stats = await uas.stop();
	assert.equal(uas.lines(/^ANSWERED /).length, 1, uas.out);
	return stats;
});

test('a wrong password is refused with a fresh 401, like an unknown user', async () => {
	const uas = await new Uas(['--rtp-min', '40600', '--rtp-max', '40699', '--max-calls', '10',
		'--user', 'alice:secret']).start();
	try {
		for (const [user, pass] of [['alice', 'wrong'], ['nobody', 'secret']]) {
			const r = await sippRetry(uas, {
				scenario: 'uac_register.xml', service: user, timeout: 4,
				extra: ['-key', 'contact_port', '5999', '-au', user, '-ap', pass],
			});
			assert.notEqual(r.ok, 1, r.describe()); /* the second 401 is not the 200 it waits for */
		}
	} catch (e) {
		await uas.kill();
		throw e;
	}
	await uas.stop();
	assert.match(uas.out, /SIGSTATS .*reg_failed=2 /);
});
