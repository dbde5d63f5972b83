// dns-server.js: a tiny authoritative DNS server over UDP on 127.0.0.1 for the voice tests
// (libre's dnsc resolving SIP URIs, RFC 3263): A, AAAA, SRV and NAPTR answers encoded by hand,
// NXDOMAIN for names not in the zone, an empty NOERROR answer for a type a name lacks, and a
// log of every query received so tests can assert what the engine asked for.
'use strict';

const dgram = require('node:dgram');

const TYPES = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, NAPTR: 35, ANY: 255 };
const TYPE_NAMES = Object.fromEntries(Object.entries(TYPES).map(([k, v]) => [v, k]));
const NXDOMAIN = 3;
const FORMERR = 1;

/* A domain name as uncompressed labels ending in the root label. */
function encodeName(name) {
	const parts = [];
	for (const label of name.replace(/\.$/, '').split('.')) {
		if (!label)
			continue;
		const b = Buffer.from(label, 'ascii');
		if (b.length > 63)
			throw new Error(`label too long: ${label}`);
		parts.push(Buffer.from([b.length]), b);
	}
	parts.push(Buffer.from([0]));
	return Buffer.concat(parts);
}

function charString(s) {
	const b = Buffer.from(s || '', 'ascii');
	return Buffer.concat([Buffer.from([b.length]), b]);
}

function u16(n) {
	const b = Buffer.alloc(2);
	b.writeUInt16BE(n);
	return b;
}

function encodeRdata(type, r) {
	switch (type) {
	case 'A':
		return Buffer.from(r.split('.').map(Number));
	case 'AAAA': {
		const b = Buffer.alloc(16);
		const [head, tail = ''] = r.split('::');
		const h = head ? head.split(':') : [];
		const t = tail ? tail.split(':') : [];
		const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
		groups.forEach((g, i) => b.writeUInt16BE(parseInt(g || '0', 16), i * 2));
		return b;
	}
	case 'SRV':
		return Buffer.concat([u16(r.priority), u16(r.weight || 0), u16(r.port), encodeName(r.target)]);
	case 'NAPTR':
		return Buffer.concat([u16(r.order), u16(r.preference || 0), charString(r.flags), charString(r.service),
			charString(r.regexp), encodeName(r.replacement || '.')]);
	default:
		throw new Error(`no encoder for ${type}`);
	}
}

/* The question's name, type and class, and where it ends; null if malformed. */
function parseQuestion(msg) {
	if (msg.length < 12 || msg.readUInt16BE(4) !== 1)
		return null;
	const labels = [];
	let off = 12;
	for (;;) {
		if (off >= msg.length)
			return null;
		const n = msg[off++];
		if (n === 0)
			break;
		if (n > 63 || off + n > msg.length) /* no compression in a question */
			return null;
		labels.push(msg.toString('ascii', off, off + n));
		off += n;
	}
	if (off + 4 > msg.length)
		return null;
	return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(off), qclass: msg.readUInt16BE(off + 2), end: off + 4 };
}

/* zone: { 'name.test': { A: ['127.0.0.1'], AAAA: [], SRV: [{priority, weight, port, target}],
   NAPTR: [{order, preference, flags, service, regexp, replacement}], drop: true } }; a name
   that is absent gets NXDOMAIN; `drop` never answers (a dead server for that name). */
class DnsServer {
	constructor(zone = {}) {
		this.zone = {};
		for (const [k, v] of Object.entries(zone))
			this.zone[k.toLowerCase()] = v;
		this.queries = []; /* {name, type} in arrival order */
	}

	start() {
		return new Promise((resolve, reject) => {
			this.sock = dgram.createSocket('udp4');
			this.sock.on('error', reject);
			this.sock.on('message', (m, rinfo) => this.onQuery(m, rinfo));
			this.sock.bind(0, '127.0.0.1', () => {
				this.port = this.sock.address().port;
				this.addr = `127.0.0.1:${this.port}`;
				resolve(this);
			});
		});
	}

	stop() {
		return new Promise((resolve) => (this.sock ? this.sock.close(() => resolve()) : resolve()));
	}

	/* The queries for name (and type, a name like 'SRV') so far. */
	asked(name, type) {
		return this.queries.filter((q) => q.name === name.toLowerCase() && (!type || q.type === type));
	}

	/* 'TYPE name' for each distinct query in the order first asked (dnsc retransmits a query
	   unanswered after 500 ms, which a loaded machine could provoke). */
	distinct() {
		return [...new Set(this.queries.map((q) => `${q.type} ${q.name}`))];
	}

	/* The log as 'TYPE name' lines, for assertion messages. */
	log() {
		return this.queries.map((q) => `${q.type} ${q.name}`).join('\n');
	}

	onQuery(msg, rinfo) {
		const q = parseQuestion(msg);
		if (!q) {
			if (msg.length >= 12)
				this.reply(rinfo, msg.subarray(0, 12), FORMERR, Buffer.alloc(0), []);
			return;
		}
		const type = TYPE_NAMES[q.type] || String(q.type);
		this.queries.push({ name: q.name, type });
		const entry = this.zone[q.name];
		if (entry && entry.drop)
			return;
		const question = msg.subarray(12, q.end);
		if (!entry)
			return this.reply(rinfo, msg, NXDOMAIN, question, []);
		const answers = [];
		for (const r of entry[type] || [])
			answers.push(Buffer.concat([Buffer.from([0xc0, 0x0c]), u16(q.type), u16(1), Buffer.from([0, 0, 0, 60]),
				u16(encodeRdata(type, r).length), encodeRdata(type, r)]));
		this.reply(rinfo, msg, 0, question, answers);
	}

	reply(rinfo, query, rcode, question, answers) {
		const hdr = Buffer.alloc(12);
		query.copy(hdr, 0, 0, 2); /* id */
		const rd = query[2] & 0x01;
		const opcode = query[2] & 0x78;
		hdr[2] = 0x80 | opcode | 0x04 | rd; /* QR, opcode, AA, RD */
		hdr[3] = rcode & 0x0f;
		hdr.writeUInt16BE(question.length ? 1 : 0, 4);
		hdr.writeUInt16BE(answers.length, 6);
		this.sock.send(Buffer.concat([hdr, question, ...answers]), rinfo.port, rinfo.address);
	}
}

module.exports = { DnsServer, encodeName, parseQuestion };
