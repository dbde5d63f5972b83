// 18: receivers down in every way at once (connection refused, 500, timeouts, 429 with
// Retry-After, 410) while events flow, then back up: every event ends delivered or
// exhausted/disabled-and-replayable; after the replays every event has been received,
// counted per endpoint. Runs on the store bus, and on NATS JetStream when make test
// provides a nats-server (IRISX_TEST_NATS_URL).
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const h = require('./lib/harness');
const { startReceiver } = require('./lib/receiver');

const PER = 60; // events per endpoint
const DOWN_MS = 1500; // how long every receiver misbehaves

function outageSuite(backend) {
	describe(`receiver outages on the ${backend} bus`, { timeout: 180000 }, () => {
		let srv, t;
		const rcvs = [];
		before(async () => {
			const env = {
				IRISX_OUTBOUND_ALLOW_PRIVATE: 'true',
				IRISX_WEBHOOKS_RETRY_UNIT_US: '100', // whole schedule ~10 s
				IRISX_WEBHOOKS_TIMEOUT_MS: '300',
				IRISX_WEBHOOKS_CONNECT_TIMEOUT_MS: '200',
				IRISX_RATELIMIT_KEY_RPS: '1000000',
				IRISX_RATELIMIT_KEY_BURST: '1000000',
				IRISX_RATELIMIT_TENANT_RPS: '1000000',
				IRISX_RATELIMIT_TENANT_BURST: '1000000',
			};
			if (backend === 'nats')
				env.IRISX_BUS_URL = process.env.IRISX_E2E_BUS_URL || process.env.IRISX_TEST_NATS_URL;
			srv = await h.startServer({ tag: `outage-${backend}`, env });
			t = await h.registerTenant(srv, { tag: 'outage' });
		});
		after(async () => {
			for (const r of rcvs)
				await r.close();
			if (srv)
				await srv.cleanup();
		});

		test('every event delivered or replayable, none lost', async () => {
			const t0 = Date.now();
			// each receiver misbehaves for DOWN_MS from the moment its events start to flow
			const start = {};
			const down = (name) => Date.now() - (start[name] || Date.now()) < DOWN_MS;
			const modes = {
				e500: () => (down('e500') ? { status: 500 } : { status: 204 }),
				hang: () => (down('hang') ? { hang: true } : { status: 204 }),
				busy: () => (down('busy') ? { status: 429, headers: { 'retry-after': '2' } } : { status: 204 }),
				gone: () => (down('gone') ? { status: 410 } : { status: 204 }),
			};
			const eps = {};
			for (const [name, fn] of Object.entries(modes)) {
				const r = await startReceiver(fn);
				rcvs.push(r);
				const ep = h.expectStatus(await srv.req('POST', '/v1/webhooks', { token: t.token, json: { url: r.url(`/${name}`), events: ['webhook.test'] } }), 201);
				eps[name] = { ep, rcv: r, path: `/${name}` };
			}
			// refused: nothing listens on the port until the outage ends
			const port = await (async () => {
				const s = http.createServer();
				await new Promise((r) => s.listen(0, '127.0.0.1', r));
				const p = s.address().port;
				await new Promise((r) => s.close(r));
				return p;
			})();
			const refusedSeen = [];
			const refused = http.createServer((q, s) => {
				refusedSeen.push(q.headers['webhook-id']);
				q.resume();
				s.writeHead(204).end();
			});
			const epR = h.expectStatus(await srv.req('POST', '/v1/webhooks', { token: t.token, json: { url: `http://127.0.0.1:${port}/refused`, events: ['webhook.test'] } }), 201);
			let restore = null;

			const emitted = {};
			for (const [name, e] of [...Object.entries(eps), ['refused', { ep: epR }]]) {
				start[name] = Date.now();
				if (name === 'refused')
					restore = setTimeout(() => refused.listen(port, '127.0.0.1'), DOWN_MS);
				const res = await h.hammer(srv.url, 'POST', `/v1/webhooks/${e.ep.id}/test`, { token: t.token, n: PER, concurrency: 8 });
				emitted[name] = new Set(res.filter((r) => r.status === 202).map((r) => r.body.event_id));
				if (name === 'gone') {
					// the first 410 disables the endpoint: later test events are refused (409),
					// not accepted and lost
					assert.ok(emitted[name].size >= 1, 'gone: some emits accepted');
					assert.ok(res.every((r) => r.status === 202 || (r.status === 409 && r.body.error.code === 'endpoint_disabled')));
				} else {
					assert.equal(emitted[name].size, PER, `${name}: all emits accepted`);
				}
			}
			// answered 2xx (a 429 or 410 reached the receiver but was not a delivery)
			const received = (name) => (name === 'refused' ? new Set(refusedSeen) : eps[name].rcv.okIds(eps[name].path));
			const deadOf = async (ep) =>
				new Set(
					(await h.listAll(srv, '/v1/jobs?state=dead&subject=webhook.deliver', { token: t.token }))
						.filter((j) => j.payload && j.payload.endpoint_id === ep.id)
						.map((j) => j.payload.event_id)
				);
			const ledger = {};
			try {
				for (const name of Object.keys(emitted)) {
					const ep = name === 'refused' ? epR : eps[name].ep;
					// every event ends received or dead-lettered (exhausted or disabled):
					// nothing is left in between once the schedule has run out
					const end = Date.now() + 60000;
					let got, deadIds, unaccounted;
					do {
						await h.sleep(200);
						got = received(name);
						deadIds = await deadOf(ep);
						unaccounted = [...emitted[name]].filter((id) => !got.has(id) && !deadIds.has(id));
					} while (unaccounted.length && Date.now() < end);
					assert.deepEqual(unaccounted, [], `${name}: events neither received nor dead after 60 s`);
					const missing = [...emitted[name]].filter((id) => !got.has(id));
					const dead = [...deadIds];
					let replayed = 0;
					if (missing.length) {
						const cur = h.expectStatus(await srv.req('GET', `/v1/webhooks/${ep.id}`, { token: t.token }), 200);
						if (!cur.enabled)
							h.expectStatus(await srv.req('PATCH', `/v1/webhooks/${ep.id}`, { token: t.token, json: { enabled: true } }), 200);
						const rp = await srv.req('POST', `/v1/webhooks/${ep.id}/replay`, { token: t.token, json: { since: new Date(t0 - 60000).toISOString() } });
						replayed = h.expectStatus(rp, 202).replayed;
						assert.equal(replayed, missing.length, `${name}: replayed every missing event`);
						const rend = Date.now() + 30000;
						while (Date.now() < rend && [...emitted[name]].some((id) => !received(name).has(id)))
							await h.sleep(100);
						got = received(name);
					}
					const lost = [...emitted[name]].filter((id) => !got.has(id)).length;
					ledger[name] = { emitted: emitted[name].size, received_first_pass: emitted[name].size - missing.length, dead_letters: dead.length, replayed, lost };
					assert.equal(lost, 0, `${name}: lost`);
				}
			} finally {
				clearTimeout(restore);
				refused.close();
			}
			console.log(`# outage ledger (${backend}): ${JSON.stringify(ledger)}`);
			assert.ok(ledger.gone.dead_letters > 0, '410 dead-lettered the events it refused');
		});
	});
}

// (IRISX_E2E_BUS_URL puts every server of a run on one bus: then only that suite)
if (!process.env.IRISX_E2E_BUS_URL)
	outageSuite('store');
if (process.env.IRISX_TEST_NATS_URL || process.env.IRISX_E2E_BUS_URL)
	outageSuite('nats');
