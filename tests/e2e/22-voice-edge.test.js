// 22-voice-edge: edge protection of the engine (tests/voice/voice_uas --pike ...): scanner
// User-Agents get no answer, a source over the rate is banned (everything dropped), Max-Forwards
// 0 gets 483, an over-long Request-URI gets 414; counters in the helper's SIGSTATS line.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { Uas, udpExchange, options } = require('./lib/voice');

const RTP = ['--rtp-min', '40800', '--rtp-max', '40899', '--max-calls', '10'];

test('scanners unanswered; Max-Forwards and R-URI checks; rate limit then ban', async () => {
	const uas = await new Uas([...RTP, '--pike', '8', '--pike-window', '2000', '--ban', '60']).start();
	try {
		for (const ua of ['friendly-scanner', 'sipvicious', 'VaxSIPUserAgent/3.1']) {
			const m = options(uas.port).replace('Max-Forwards: 70', `Max-Forwards: 70\r\nUser-Agent: ${ua}`);
			assert.deepEqual(await udpExchange(uas.port, m, 300), [], ua);
		}
		const hop = await udpExchange(uas.port, options(uas.port).replace('Max-Forwards: 70', 'Max-Forwards: 0'), 500);
		assert.match(hop[0] || '', /^SIP\/2.0 483 /);
		const long = options(uas.port).replace('sip:probe@', `sip:${'a'.repeat(600)}@`);
		assert.match((await udpExchange(uas.port, long, 500))[0] || '', /^SIP\/2.0 414 /);
		// 8 initial requests per 2 s from one address; 2 used above: 6 more answered, then silence
		let answered = 0;
		for (let i = 0; i < 10; i++)
			if (/^SIP\/2.0 200 /.test((await udpExchange(uas.port, options(uas.port), 150))[0] || ''))
				answered++;
		assert.equal(answered, 6);
	} catch (e) {
		await uas.kill();
		throw e;
	}
	await uas.stop();
	const s = /SIGSTATS (.*)/.exec(uas.out)[1];
	assert.match(s, /scanner=3 /);
	assert.match(s, /bans=1 /);
	assert.match(s, /hops=1 ruri=1 /);
	assert.match(s, /rate=1 banned=3 /);
});
