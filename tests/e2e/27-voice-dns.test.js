// 27-voice-dns: the engine (tests/voice/voice_uas --dns) resolving SIP URIs through libre's dnsc
// against our own DNS server (lib/dns-server.js) on 127.0.0.1, RFC 3263 as libre 1.1.0 does
// it: NAPTR, then SRV for TCP and UDP, two SRV targets by priority (the first answers 503, so
// libre moves on to the second), the SRV port rather than 5060; over TCP a refused connection
// moves on too; a name with only an A record and an explicit port; NXDOMAIN and a DNS server
// that never answers end the dial with a HANGUP and the engine keeps serving; a NAPTR choosing
// TCP; trunks given by name pinged with OPTIONS. Every test checks the DNS server's query log.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { Uas, sippServer, udpExchange, options } = require('./lib/voice');
const { DnsServer } = require('./lib/dns-server');
const { freePort } = require('./lib/harness');

const RTP = ['--rtp-min', '40600', '--rtp-max', '40699', '--max-calls', '20'];

/* Runs fn(dns) with a DNS server for zone, then stops it. */
async function withDns(zone, fn) {
	const dns = await new DnsServer(zone).start();
	try {
		return await fn(dns);
	} finally {
		await dns.stop();
	}
}

/* voice_uas with --dns; on a failure its output and the DNS log join the error. */
async function withUas(dns, args, fn) {
	const uas = await new Uas([...RTP, '--dns', dns.addr, ...args]).start();
	try {
		await fn(uas);
	} catch (e) {
		await uas.kill();
		e.message += `\n--- voice_uas:\n${uas.out.slice(-3000)}\n${uas.err.slice(-1500)}\n--- DNS queries:\n${dns.log()}`;
		throw e;
	}
	return uas.stop();
}

/* The call id voice_uas printed for the dial of uri. */
function callOf(uas, uri) {
	const l = uas.lines(/^DIALING /).find((x) => x.endsWith(` uri=${uri}`));
	assert.ok(l, `no DIALING for ${uri} in:\n${uas.out}`);
	return /call=(\d+)/.exec(l)[1];
}

test('SRV: two targets by priority, the first answers 503, the second answers on its SRV port', async () => {
	const busy = await sippServer({ scenario: 'uas_503.xml' });
	const good = await sippServer({ scenario: 'uas_answer.xml', extra: ['-rtp_echo'] });
	const zone = {
		'carrier.test': {}, /* exists, no NAPTR, no A */
		'_sip._udp.carrier.test': {
			SRV: [
				{ priority: 20, weight: 0, port: good.port, target: 'b.carrier.test' },
				{ priority: 10, weight: 0, port: busy.port, target: 'a.carrier.test' },
			],
		},
		'a.carrier.test': { A: ['127.0.0.1'] },
		'b.carrier.test': { A: ['127.0.0.1'] },
	};
	await withDns(zone, async (dns) => {
		let uasRef;
		const stats = await withUas(dns, ['--dial', 'sip:svc@carrier.test', '--hangup-after', '1500'], async (uas) => {
			uasRef = uas;
			await uas.waitFor(/^HANGUP /m, 15000);
			const b = await busy.done;
			const g = await good.done;
			assert.equal(b.ok, 1, `the priority-10 target saw no INVITE/ACK:\n${b.describe()}`);
			assert.equal(g.ok, 1, `the priority-20 target did not take the call:\n${g.describe()}`);
		});
		const uas = uasRef;
		assert.equal(uas.lines(/^ANSWERED /).length, 1, uas.out);
		assert.equal(uas.lines(/^HANGUP call=\d+ code=0 cause=local$/).length, 1, uas.out);
		/* libre 1.1.0's order (RFC 3263 4.1): NAPTR, no NAPTR: SRV for the transports it has
		   (TCP before UDP), then an A query per SRV target in priority order */
		assert.deepEqual(
			dns.distinct(),
			['NAPTR carrier.test', 'SRV _sip._tcp.carrier.test', 'SRV _sip._udp.carrier.test', 'A a.carrier.test', 'A b.carrier.test'],
			dns.log()
		);
		assert.equal(dns.asked('carrier.test', 'A').length, 0, 'fell back to the A record (port 5060)');
		const q = /^QUALITY .* rx=(\d+)/m.exec(uas.out);
		assert.ok(q && +q[1] >= 25, `media from the SRV target (echoed): ${uas.out}`);
		assert.ok(stats.rx >= 25, `rx ${stats.rx}`);
	});
});

test('a name with only an A record, dialled with an explicit port: only A is asked, no NAPTR or SRV', async () => {
	const far = await sippServer({ scenario: 'uas_answer.xml' });
	await withDns({ 'pbx.test': { A: ['127.0.0.1'] } }, async (dns) => {
		let uasRef;
		await withUas(dns, ['--dial', `sip:svc@pbx.test:${far.port}`, '--hangup-after', '500'], async (uas) => {
			uasRef = uas;
			await uas.waitFor(/^HANGUP /m, 15000);
			const r = await far.done;
			assert.equal(r.ok, 1, r.describe());
		});
		assert.equal(uasRef.lines(/^ANSWERED /).length, 1, uasRef.out);
		assert.equal(uasRef.lines(/^HANGUP call=\d+ code=0 cause=local$/).length, 1, uasRef.out);
		assert.deepEqual(dns.distinct(), ['A pbx.test'], dns.log());
	});
});

test('NXDOMAIN: the dial ends at once with HANGUP code=0 cause=error; the engine keeps serving', async () => {
	const far = await sippServer({ scenario: 'uas_answer.xml' });
	const zone = { 'pbx.test': { A: ['127.0.0.1'] } };
	await withDns(zone, async (dns) => {
		const bad = 'sip:svc@nowhere.test';
		const good = `sip:svc@pbx.test:${far.port}`;
		let uasRef;
		await withUas(dns, ['--dial', bad, '--dial', good, '--hangup-after', '500'], async (uas) => {
			uasRef = uas;
			const t0 = Date.now();
			const id = callOf(uas, bad);
			await uas.waitFor(new RegExp(`^HANGUP call=${id} `, 'm'), 5000);
			assert.ok(Date.now() - t0 < 3000, `the failed dial took ${Date.now() - t0} ms`);
			const gid = callOf(uas, good);
			await uas.waitFor(new RegExp(`^HANGUP call=${gid} `, 'm'), 15000);
			assert.equal((await far.done).ok, 1);
			const got = await udpExchange(uas.port, options(uas.port), 800);
			assert.ok(got.some((m) => m.startsWith('SIP/2.0 200')), `OPTIONS after the failure: ${got}`);
		});
		const uas = uasRef;
		const id = callOf(uas, bad);
		assert.equal(uas.lines(new RegExp(`^HANGUP call=${id} code=0 cause=error$`)).length, 1, uas.out);
		assert.equal(uas.lines(new RegExp(`^ANSWERED call=${callOf(uas, good)}$`)).length, 1, uas.out);
		/* the whole RFC 3263 walk was tried before giving up */
		for (const [type, name] of [['NAPTR', 'nowhere.test'], ['SRV', '_sip._tcp.nowhere.test'], ['SRV', '_sip._udp.nowhere.test'], ['A', 'nowhere.test']])
			assert.ok(dns.asked(name, type).length >= 1, `${type} ${name}:\n${dns.log()}`);
	});
});

test('a DNS server that never answers: the dial timeout ends the call (408, timeout)', async () => {
	await withDns({ 'silent.test': { drop: true } }, async (dns) => {
		let uasRef;
		await withUas(dns, ['--dial', 'sip:svc@silent.test:5999', '--dial-timeout', '1500'], async (uas) => {
			uasRef = uas;
			await uas.waitFor(/^HANGUP /m, 8000);
			const got = await udpExchange(uas.port, options(uas.port), 800);
			assert.ok(got.some((m) => m.startsWith('SIP/2.0 200')), `OPTIONS after the timeout: ${got}`);
		});
		assert.equal(uasRef.lines(/^HANGUP call=\d+ code=408 cause=timeout$/).length, 1, uasRef.out);
		assert.ok(dns.asked('silent.test', 'A').length >= 2, `dnsc retransmits:\n${dns.log()}`);
	});
});

/* (SIPp listens on TCP only here; its Contact carries transport=tcp, since a Contact with a bare
   IP and no transport is reached over UDP, RFC 3263 4.1, as libre does for our ACK and BYE) */
test('NAPTR SIP+D2T picks TCP: the SRV for _sip._tcp, the call over TCP', async () => {
	const far = await sippServer({ scenario: 'uas_answer_tcp.xml', extra: ['-t', 't1'] });
	const zone = {
		'tcp.test': {
			NAPTR: [
				{ order: 10, preference: 10, flags: 's', service: 'SIP+D2T', regexp: '', replacement: '_sip._tcp.tcp.test' },
				{ order: 20, preference: 10, flags: 's', service: 'SIP+D2U', regexp: '', replacement: '_sip._udp.tcp.test' },
			],
		},
		'_sip._tcp.tcp.test': { SRV: [{ priority: 10, weight: 0, port: far.port, target: 'sbc.tcp.test' }] },
		'_sip._udp.tcp.test': { SRV: [{ priority: 10, weight: 0, port: 9, target: 'sbc.tcp.test' }] },
		'sbc.tcp.test': { A: ['127.0.0.1'] },
	};
	await withDns(zone, async (dns) => {
		let uasRef;
		await withUas(dns, ['--dial', 'sip:svc@tcp.test', '--hangup-after', '500'], async (uas) => {
			uasRef = uas;
			await uas.waitFor(/^HANGUP /m, 15000);
			const r = await far.done;
			assert.equal(r.ok, 1, r.describe());
		});
		assert.equal(uasRef.lines(/^ANSWERED /).length, 1, uasRef.out);
		assert.deepEqual(dns.distinct(),
			['NAPTR tcp.test', 'SRV _sip._tcp.tcp.test', 'A sbc.tcp.test'], dns.log());
	});
});

test('SRV over TCP: the first target refuses the connection, libre moves on to the next at once', async () => {
	const dead = await freePort(); /* nothing listens there: connection refused */
	const far = await sippServer({ scenario: 'uas_answer_tcp.xml', extra: ['-t', 't1'] });
	const zone = {
		'pool.test': {},
		'_sip._tcp.pool.test': {
			SRV: [
				{ priority: 10, weight: 0, port: dead, target: 'down.pool.test' },
				{ priority: 20, weight: 0, port: far.port, target: 'up.pool.test' },
			],
		},
		'down.pool.test': { A: ['127.0.0.1'] },
		'up.pool.test': { A: ['127.0.0.1'] },
	};
	await withDns(zone, async (dns) => {
		let uasRef;
		const t0 = Date.now();
		await withUas(dns, ['--dial', 'sip:svc@pool.test', '--hangup-after', '500'], async (uas) => {
			uasRef = uas;
			await uas.waitFor(/^ANSWERED /m, 5000);
			assert.ok(Date.now() - t0 < 4000, `answered after ${Date.now() - t0} ms`);
			await uas.waitFor(/^HANGUP /m, 5000);
			assert.equal((await far.done).ok, 1);
		});
		assert.equal(uasRef.lines(/^HANGUP call=\d+ code=0 cause=local$/).length, 1, uasRef.out);
		assert.deepEqual(dns.distinct(), ['NAPTR pool.test', 'SRV _sip._tcp.pool.test', 'A down.pool.test', 'A up.pool.test'], dns.log());
	});
});

test('a trunk given by name (SRV): OPTIONS pings reach the SRV target, TRUNK_UP', async () => {
	const far = await new Uas([...RTP]).start();
	try {
		const zone = {
			'trunk.test': {},
			'_sip._udp.trunk.test': { SRV: [{ priority: 10, weight: 0, port: far.port, target: 'edge.trunk.test' }] },
			'edge.trunk.test': { A: ['127.0.0.1'] },
		};
		await withDns(zone, async (dns) => {
			let uasRef;
			await withUas(dns, ['--trunk', 'sip:trunk.test', '--trunk-ping', '300'], async (uas) => {
				uasRef = uas;
				await uas.waitFor(/^TRUNK_UP id=\d+ code=200$/m, 8000);
			});
			assert.equal(uasRef.lines(/^TRUNK_DOWN /).length, 0, uasRef.out);
			assert.ok(dns.asked('_sip._udp.trunk.test', 'SRV').length >= 1, dns.log());
			assert.ok(dns.asked('edge.trunk.test', 'A').length >= 1, dns.log());
		});
	} finally {
		await far.stop();
	}
});

test('a trunk whose name does not resolve goes DOWN (the pings fail in DNS)', async () => {
	await withDns({}, async (dns) => {
		let uasRef;
		await withUas(dns, ['--trunk', 'sip:gone.test', '--trunk-ping', '200'], async (uas) => {
			uasRef = uas;
			await uas.waitFor(/^TRUNK_DOWN id=\d+ code=\d+$/m, 8000);
		});
		assert.equal(uasRef.lines(/^TRUNK_UP /).length, 0, uasRef.out);
		assert.ok(dns.asked('gone.test', 'A').length >= 1, dns.log());
	});
});
