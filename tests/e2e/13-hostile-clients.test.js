// 13: hostile HTTP clients on raw sockets: oversized headers and URLs, slowloris and slow
// bodies (IRISX_HTTP_TIMEOUT_S=2), 1,000 concurrent connections, the connection cap,
// CL+TE request smuggling, garbage. The server must answer clearly and keep serving.
'use strict';

const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const h = require('./lib/harness');

let srv;
before(async () => {
	srv = await h.startServer({ tag: 'hostile', env: { IRISX_HTTP_TIMEOUT_S: '2' } });
});
after(async () => {
	if (srv)
		await srv.cleanup();
});

async function alive(what) {
	assert.ok(srv.alive(), `server process died after ${what}:\n${srv.logs.slice(-2000)}`);
	const r = await srv.req('GET', '/healthz', { timeout: 5000 });
	h.expectStatus(r, 200, `healthz after ${what}`);
}

const GET = (p = '/healthz', extra = '') => `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`;

describe('oversized requests', () => {
	test('a 64 KB header -> 4xx, not a crash', async () => {
		const x = await h.rawExchange(srv.port, [GET('/healthz', `X-Big: ${'a'.repeat(64 * 1024)}\r\n`)]);
		assert.equal(x.statuses.length, 1, `expected one answer, got ${JSON.stringify(x.data.slice(0, 200))} (closed ${x.closed}, ${x.error})`);
		assert.ok([400, 413, 431].includes(x.statuses[0]), `status ${x.statuses[0]}`);
		await alive('64 KB header');
	});

	test('many headers (100 KB total) -> 4xx', async () => {
		let hs = '';
		for (let i = 0; i < 200; i++)
			hs += `X-H${i}: ${'b'.repeat(500)}\r\n`;
		const x = await h.rawExchange(srv.port, [GET('/healthz', hs)]);
		assert.equal(x.statuses.length, 1, `answer: ${JSON.stringify(x.data.slice(0, 200))} closed=${x.closed}`);
		assert.ok(x.statuses[0] >= 400 && x.statuses[0] < 500, `status ${x.statuses[0]}`);
		await alive('many headers');
	});

	test('a 100 KB URL -> 4xx', async () => {
		const x = await h.rawExchange(srv.port, [GET('/v1/' + 'u'.repeat(100 * 1024))]);
		assert.equal(x.statuses.length, 1, `answer: ${JSON.stringify(x.data.slice(0, 200))} closed=${x.closed}`);
		assert.ok([400, 404, 413, 414, 431].includes(x.statuses[0]), `status ${x.statuses[0]}`);
		await alive('long URL');
	});

	test('an 8 KB header is still served', async () => {
		const x = await h.rawExchange(srv.port, [GET('/healthz', `X-Ok: ${'c'.repeat(8 * 1024)}\r\nConnection: close\r\n`)]);
		assert.deepEqual(x.statuses, [200]);
	});

	test('a declared 10 GB body and a 2 MB chunked body -> 413 without reading them', async () => {
		const x = await h.rawExchange(srv.port, [
			'POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n{"email":',
		]);
		assert.equal(x.statuses[0], 413, `declared 10 GB: ${JSON.stringify(x.data.slice(0, 200))} closed=${x.closed}`);
		const chunk = Buffer.alloc(64 * 1024, 0x20);
		const chunks = ['POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n'];
		for (let i = 0; i < 32; i++)
			chunks.push(`${chunk.length.toString(16)}\r\n`, chunk, '\r\n');
		chunks.push('0\r\n\r\n');
		const y = await h.rawExchange(srv.port, chunks);
		assert.equal(y.statuses[0], 413, `2 MB chunked: ${JSON.stringify(y.data.slice(0, 200))} closed=${y.closed} ${y.error}`);
		await alive('big bodies');
	});
});

describe('slow clients (IRISX_HTTP_TIMEOUT_S=2)', () => {
	test('partial headers then silence: closed after the timeout', async () => {
		const x = await h.rawExchange(srv.port, ['GET /healthz HTTP/1.1\r\nHost: x\r\n'], { idleMs: 15000, maxMs: 15000 });
		assert.ok(x.closed, 'slowloris socket never closed');
		assert.ok(x.ms >= 1500 && x.ms < 8000, `closed after ${x.ms} ms`);
		assert.ok(x.statuses.every((s) => s === 408 || s === 400), `unexpected answer ${x.statuses}`);
	});

	test('a body that stalls: closed after the timeout', async () => {
		const x = await h.rawExchange(
			srv.port,
			['POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email":'],
			{ idleMs: 15000, maxMs: 15000 }
		);
		assert.ok(x.closed, 'stalled body never closed');
		assert.ok(x.ms < 8000, `closed after ${x.ms} ms`);
	});

	test('an idle keep-alive connection is closed after the timeout', async () => {
		const x = await h.rawExchange(srv.port, [GET()], { idleMs: 15000, maxMs: 15000 });
		assert.deepEqual(x.statuses, [200]);
		assert.ok(x.closed && x.ms < 8000, `idle keep-alive closed=${x.closed} after ${x.ms} ms`);
	});

	test('200 slowloris sockets do not starve normal requests', async () => {
		const socks = [];
		await Promise.all(
			Array.from({ length: 200 }, () => new Promise((res) => {
				const s = net.connect(srv.port, '127.0.0.1', () => {
					s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
					res();
				});
				s.on('error', () => res());
				socks.push(s);
			}))
		);
		const t0 = Date.now();
		const r = await srv.req('GET', '/healthz', { timeout: 5000 });
		h.expectStatus(r, 200);
		assert.ok(Date.now() - t0 < 1000, `healthz took ${Date.now() - t0} ms with 200 slowloris sockets`);
		for (const s of socks)
			s.destroy();
		await alive('slowloris crowd');
	});
});

describe('many connections', () => {
	test('1,000 concurrent connections: each answered or cleanly refused; serving continues', { timeout: 60000 }, async () => {
		const N = 1000;
		const results = await Promise.all(
			Array.from({ length: N }, () => h.rawExchange(srv.port, [GET('/healthz', 'Connection: close\r\n')], { idleMs: 20000, maxMs: 25000 }))
		);
		let ok = 0,
			refused = 0;
		const hung = [],
			bad = [];
		for (const x of results) {
			if (x.statuses[0] === 200)
				ok++;
			else if (x.statuses[0] === 503 || (x.statuses.length === 0 && x.closed))
				refused++;
			else if (!x.closed)
				hung.push(x);
			else
				bad.push(x.statuses[0]);
		}
		assert.equal(hung.length, 0, `${hung.length} connections hung`);
		assert.deepEqual(bad, [], `unexpected answers`);
		assert.ok(ok >= N * 0.9, `only ${ok}/${N} answered (${refused} refused)`);
		await alive('1,000 connections');
	});

	test('1,000 concurrent keep-alive fetches', { timeout: 60000 }, async () => {
		const rs = await Promise.allSettled(Array.from({ length: 1000 }, () => srv.req('GET', '/healthz', { timeout: 30000 })));
		const ok = rs.filter((r) => r.status === 'fulfilled' && r.value.status === 200).length;
		const other = rs.filter((r) => r.status === 'fulfilled' && r.value.status !== 200 && r.value.status !== 503);
		assert.deepEqual(other.map((r) => r.value.status), [], 'unexpected statuses');
		assert.ok(ok >= 900, `${ok}/1000 fetches answered`);
		await alive('1,000 fetches');
	});

	test('IRISX_HTTP_MAX_CONNECTIONS caps open connections; excess refused cleanly', { timeout: 60000 }, async () => {
		const small = await h.startServer({ tag: 'maxconn', env: { IRISX_HTTP_MAX_CONNECTIONS: '50', IRISX_HTTP_TIMEOUT_S: '30' } });
		try {
			const socks = [];
			const closedEarly = [];
			await Promise.all(
				Array.from({ length: 120 }, (_, i) => new Promise((res) => {
					const s = net.connect(small.port, '127.0.0.1', () => {
						s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
						res();
					});
					s.on('close', () => closedEarly.push(i));
					s.on('error', () => res());
					socks.push(s);
				}))
			);
			await h.sleep(1500);
			assert.ok(closedEarly.length >= 60, `only ${closedEarly.length} of 120 connections refused with a cap of 50`);
			for (const s of socks)
				s.destroy();
			await h.sleep(300);
			h.expectStatus(await small.req('GET', '/healthz', { timeout: 5000 }), 200, 'after the cap is released');
		} finally {
			await small.cleanup();
		}
	});
});

describe('request smuggling and garbage', () => {
	const smuggled = GET('/healthz');

	test('control: two pipelined requests get two answers', async () => {
		const x = await h.rawExchange(srv.port, [GET() + GET('/healthz', 'Connection: close\r\n')]);
		assert.deepEqual(x.statuses, [200, 200]);
	});

	const variants = {
		'CL.TE': 'Content-Length: 6\r\nTransfer-Encoding: chunked\r\n',
		'TE.CL': 'Transfer-Encoding: chunked\r\nContent-Length: 6\r\n',
		'two different Content-Lengths': 'Content-Length: 5\r\nContent-Length: 0\r\n',
		'Content-Length list': 'Content-Length: 5, 0\r\n',
		'TE xchunked + CL': 'Transfer-Encoding: xchunked\r\nContent-Length: 5\r\n',
		'TE with space before colon': 'Transfer-Encoding : chunked\r\nContent-Length: 5\r\n',
		'TE tab': 'Transfer-Encoding:\tchunked\r\nContent-Length: 5\r\n',
		'two TE headers': 'Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n',
		'TE chunked, identity': 'Transfer-Encoding: chunked, identity\r\nContent-Length: 5\r\n',
		'negative CL': 'Content-Length: -1\r\n',
		'CL with plus': 'Content-Length: +5\r\n',
	};
	for (const [name, hdrs] of Object.entries(variants)) {
		test(`smuggling ${name}: 400 or closed, never two answers`, async () => {
			const req = `POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${hdrs}\r\n0\r\n\r\n${smuggled}`;
			const x = await h.rawExchange(srv.port, [req], { idleMs: 2500 });
			assert.ok(x.statuses.length <= 1, `${x.statuses.length} answers: ${x.statuses} ${JSON.stringify(x.data.slice(0, 400))}`);
			if (x.statuses.length === 1) {
				const s = x.statuses[0];
				assert.ok((s >= 400 && s < 500) || s === 501 || x.closed, `answered ${s} and kept the connection open`);
			}
			await alive(name);
		});
	}

	/* One response, its body exactly Content-Length bytes and not itself a status line. */
	function wellFormed(x) {
		const end = x.data.indexOf('\r\n\r\n');
		if (end < 0)
			return 'no header block';
		const cl = /\r\ncontent-length:\s*(\d+)/i.exec(x.data.slice(0, end));
		const body = x.data.slice(end + 4);
		if (cl && body.length !== +cl[1])
			return `Content-Length ${cl[1]} but ${body.length} body bytes`;
		if (/^HTTP\/1\.[01] \d{3}/.test(body))
			return 'the body starts with a second status line (header block sent twice)';
		return null;
	}

	for (const cl of ['abc', '+5', '-1', '5, 0']) {
		// libmicrohttpd 0.9.75 (Debian 12) answers these itself, before IRISX sees the request,
		// and sends its 400 header block twice; the connection is closed and nothing is
		// smuggled (see the variants above), but the answer is malformed: known, upstream.
		test(`malformed Content-Length "${cl}": one well-formed 400`, { todo: 'libmicrohttpd 0.9.75 duplicates its own 400 header block' }, async () => {
			const x = await h.rawExchange(srv.port, [`POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${cl}\r\n\r\n{}`], { idleMs: 1500 });
			assert.equal(x.statuses[0], 400, JSON.stringify(x.data.slice(0, 300)));
			const bad = wellFormed(x);
			assert.equal(bad, null, `${bad}: ${JSON.stringify(x.data.slice(0, 400))}`);
		});
	}

	test('garbage and malformed requests -> 4xx or close; server keeps serving', async () => {
		const cases = [
			require('node:crypto').randomBytes(4096),
			'GET / HTTP/9.9\r\nHost: x\r\n\r\n',
			'GET\r\n\r\n',
			'G\x00T /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
			'GET /healthz HTTP/1.1\r\nHost x\r\n\r\n',
			'GET /healthz HTTP/1.1\r\nHost: x\r\nBad\x00Header: y\r\n\r\n',
			'GET /healthz HTTP/1.1\nHost: x\n\n',
			'GET /healthz HTTP/1.1\rHost: x\r\r',
			'GET  /healthz  HTTP/1.1\r\nHost: x\r\n\r\n',
			'GET /healthz HTTP/1.1\r\n Host: x\r\n\r\n',
			'POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
			'POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n',
			'\r\n\r\n\r\n',
			'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
		];
		for (const c of cases) {
			const x = await h.rawExchange(srv.port, [c], { idleMs: 2500, maxMs: 8000 });
			assert.ok(x.statuses.every((s) => s < 500 || s === 501 || s === 505), `${JSON.stringify(String(c).slice(0, 60))}: ${x.statuses}`);
			assert.ok(srv.alive(), `server died on ${JSON.stringify(String(c).slice(0, 60))}`);
		}
		await alive('garbage');
	});
});
