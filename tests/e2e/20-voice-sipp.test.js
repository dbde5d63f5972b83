// 20-voice-sipp: the voice engine (tests/voice/voice_uas) against SIPp on 127.0.0.1: inbound
// answer and hangup both ways, RFC 4733 digits from SIPp's captures, CANCEL, TCP, OPTIONS, the
// size cap, RTP from strangers, and re-INVITEs for hold, resume and a codec change.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const dgram = require('node:dgram');
const { Uas, sipp, udpExchange, options } = require('./lib/voice');

const RTP = ['--rtp-min', '40000', '--rtp-max', '40199', '--max-calls', '100'];

async function withUas(args, fn) {
	const uas = await new Uas([...RTP, ...args]).start();
	try {
		await fn(uas);
	} catch (e) {
		await uas.kill();
		e.message += `\n--- voice_uas stdout:\n${uas.out.slice(-3000)}\n--- stderr:\n${uas.err.slice(-2000)}`;
		throw e;
	}
	return uas.stop();
}

test('inbound calls: answered, media both ways, the caller hangs up (UDP)', async () => {
	let uasRef;
	const stats = await withUas([], async (uas) => {
		uasRef = uas;
		const r = await sipp(uas, { calls: 3, rate: 3, hold: 1500, rtpEcho: true });
		assert.equal(r.ok, 3, r.describe());
		assert.equal(r.failed, 0, r.describe());
		await uas.waitFor(/(HANGUP[^\n]*\n[\s\S]*){3}/);
	});
	assert.equal(uasRef.lines(/^INCOMING .*transport=udp/).length, 3);
	assert.equal(uasRef.lines(/^ANSWERED /).length, 3);
	assert.equal(uasRef.lines(/^HANGUP .*cause=remote$/).length, 3, uasRef.out);
	// 3 calls x 1.5 s x 50 packets/s each way, echoed back by SIPp
	assert.ok(stats.tx >= 150, `tx ${stats.tx}`);
	assert.ok(stats.rx >= 100, `rx ${stats.rx}`);
	assert.equal(stats.rejected, 0);
	assert.equal(stats.calls, 0);
});

test('the engine hangs up: SIPp receives our BYE', async () => {
	await withUas(['--hangup-after', '800'], async (uas) => {
		const r = await sipp(uas, { scenario: 'uac_wait_bye.xml', calls: 2, rate: 2 });
		assert.equal(r.ok, 2, r.describe());
		await uas.waitFor(/HANGUP[^\n]*cause=local[\s\S]*HANGUP[^\n]*cause=local/);
	});
});

test('RFC 4733 digits from the bundled captures: each digit once, the repeat kept', async () => {
	let uasRef;
	await withUas(['--hangup-on-pound'], async (uas) => {
		uasRef = uas;
		const r = await sipp(uas, { scenario: 'uac_dtmf.xml', calls: 1 });
		assert.equal(r.ok, 1, r.describe());
		await uas.waitFor(/HANGUP[^\n]*cause=local/);
	});
	const digits = uasRef.lines(/^DTMF /).map((l) => l.replace(/.*digit=/, ''));
	// dtmf_2833_1.pcap twice (the very same RTP timestamp both times), then pound
	assert.deepEqual(digits, ['1', '1', '#'], uasRef.out);
});

test('CANCEL before the answer: 200 to the CANCEL, 487 to the INVITE', async () => {
	let uasRef;
	await withUas([], async (uas) => {
		uasRef = uas;
		const r = await sipp(uas, { scenario: 'uac_cancel.xml', service: 'ring', calls: 2, rate: 2 });
		assert.equal(r.ok, 2, r.describe());
		await uas.waitFor(/HANGUP[^\n]*code=487 cause=cancel[\s\S]*HANGUP[^\n]*code=487 cause=cancel/);
	});
	assert.equal(uasRef.lines(/^ANSWERED /).length, 0);
});

test('calls over TCP', async () => {
	let uasRef;
	await withUas([], async (uas) => {
		uasRef = uas;
		const r = await sipp(uas, { calls: 2, rate: 2, hold: 800, tcp: true, rtpEcho: true });
		assert.equal(r.ok, 2, r.describe());
		await uas.waitFor(/HANGUP[\s\S]*HANGUP/);
	});
	assert.equal(uasRef.lines(/^INCOMING .*transport=tcp/).length, 2, uasRef.out);
	assert.equal(uasRef.lines(/^HANGUP .*cause=remote$/).length, 2);
});

test('re-INVITE: hold (sendonly answered recvonly), then PCMA only (answered PCMA, sendrecv)', async () => {
	await withUas([], async (uas) => {
		// uac_reinvite checks each 200's SDP with check_it: a wrong answer fails the call
		const r = await sipp(uas, { scenario: 'uac_reinvite.xml', calls: 1, rtpEcho: true });
		assert.equal(r.ok, 1, r.describe());
		assert.equal(r.failed, 0, r.describe());
		await uas.waitFor(/^HANGUP .*cause=remote/m);
		assert.equal(uas.lines(/^ANSWERED /).length, 1, uas.out);
	});
});

test('a busy callee: 486 reaches the caller', async () => {
	await withUas([], async (uas) => {
		const r = await sipp(uas, { service: 'busy', calls: 1, hold: 0 });
		assert.equal(r.ok, 0, r.describe());
		assert.match(r.errors + r.screen + r.out, /486/, r.describe());
		await uas.waitFor(/HANGUP[^\n]*code=486 cause=local/);
	});
});

test('OPTIONS is answered; a message over the size cap gets 513 and nothing else', async () => {
	const stats = await withUas(['--max-msg', '4096'], async (uas) => {
		const ok = await udpExchange(uas.port, options(uas.port));
		assert.equal(ok.length, 1, JSON.stringify(ok));
		assert.match(ok[0], /^SIP\/2.0 200 OK\r\n/);
		assert.match(ok[0], /\r\nAllow: INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, REFER, NOTIFY\r\n/);
		const big = await udpExchange(uas.port, options(uas.port, { pad: 5000 }));
		assert.equal(big.length, 1, JSON.stringify(big));
		assert.match(big[0], /^SIP\/2.0 513 /);
		// and the engine still works
		const r = await sipp(uas, { calls: 1, hold: 300 });
		assert.equal(r.ok, 1, r.describe());
	});
	assert.equal(stats.too_big, 1);
});

test('RTP from a stranger is dropped: sprayed digits never arrive, the call goes on', async () => {
	let uasRef;
	const args = ['--rtp-min', '40200', '--rtp-max', '40239', '--max-calls', '10', '--hangup-after', '2000'];
	const stats = await withUas(args, async (uas) => {
		uasRef = uas;
		// this call offers telephone-event/101, so a sprayed event would be a digit if accepted
		const call = sipp(uas, { scenario: 'uac_wait_bye.xml', calls: 1 });
		await uas.waitFor(/^ANSWERED /m);
		// telephone-event '9' and PCMU, to every port of the engine's range
		const s = dgram.createSocket('udp4');
		await new Promise((r) => s.bind(0, '127.0.0.1', r));
		for (let round = 0; round < 5; round++) {
			for (let port = 40200; port < 40240; port += 2) {
				for (const pt of [0, 101]) {
					const b = Buffer.alloc(16);
					b[0] = 0x80;
					b[1] = 0x80 | pt;
					b.writeUInt16BE(round, 2);
					b.writeUInt32BE(1000 + round * 800, 4);
					b.writeUInt32BE(0x5eed, 8);
					b[12] = 9;
					b[13] = 10;
					s.send(b, port, '127.0.0.1');
				}
			}
			await new Promise((r) => setTimeout(r, 50));
		}
		s.close();
		const r = await call;
		assert.equal(r.ok, 1, r.describe());
	});
	assert.equal(uasRef.lines(/^DTMF /).length, 0);
	assert.ok(stats.rejected >= 5, `rejected ${stats.rejected}`);
});
