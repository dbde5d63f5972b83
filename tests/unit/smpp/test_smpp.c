/* test_smpp.c: unit tests for the SMPP 3.4 client: PDU codec (round trips, hex vectors,
   PDUs captured from Kannel's drive_smpp, malformed input), receipt text, and the client
   against a fake SMSC thread on 127.0.0.1 that throttles, drops the bind, ignores
   enquire_link, sends garbage and early receipts, and takes transmitter / receiver binds. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "messaging/smpp.h"
#include "../test.h"

/* ---- helpers ---- */

static size_t unhex(const char *h, uint8_t *out)
{
	size_t n = strlen(h) / 2;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(h + 2 * i, "%2x", &v) != 1)
			abort();
		out[i] = (uint8_t)v;
	}
	return n;
}

static void encode_hex(const struct smpp_pdu *p, char *out, size_t max)
{
	struct buf b;
	buf_init(&b, 0);
	if (smpp_pdu_encode(p, &b) < 0 || b.len * 2 + 1 > max) {
		out[0] = 0;
	} else {
		hex_encode(b.p, b.len, out);
	}
	buf_free(&b);
}

static void sleep_ms(int ms)
{
	usleep((useconds_t)ms * 1000);
}

/* ---- codec: hex vectors ---- */

#define HEX_BIND "0000001e00000009000000000000000165736d6531007077000034000000"
#define HEX_SUBMIT                                                                                 \
	"000000390000000400000000000000020001013132333435000101313535353030303131313100400000"     \
	"00000100000008050003a102014869"
#define HEX_DELIVER                                                                                \
	"000000a900000005000000000000000300010131353535303030313131310001013132333435000400"       \
	"000000000000006269643a616263313233207375623a30303120646c7672643a303031207375626d69"       \
	"7420646174653a3235303130313132303020646f6e6520646174653a32353031303131323031207374"       \
	"61743a44454c49565244206572723a30303020746578743a001e000761626331323300042700010214"       \
	"0300020102"
#define HEX_NACK "00000010800000000000000300000007"
/* sent by Kannel 1.4.5's test/drive_smpp (captured on the wire): a bind_transmitter_resp and a
   submit_sm_resp with an empty C-Octet String (no system_id, no message_id), and an MO
   deliver_sm with sequence number 0, esm_class 0 and a receipted_message_id TLV */
#define HEX_KANNEL_BIND_TX_RESP "0000001180000002000000000000000100"
#define HEX_KANNEL_SUBMIT_RESP "0000001180000004000000000000000200"
#define HEX_KANNEL_DELIVER                                                                         \
	"00000041000000050000000000000000000000343536000000313233000000000000000000000131001e00"   \
	"157265636569707465645f6d6573736167655f696400"

static void test_kannel_vectors(void)
{
	uint8_t raw[128];
	struct smpp_pdu p;
	size_t n = unhex(HEX_KANNEL_BIND_TX_RESP, raw);
	CHECK_EQ_INT(smpp_pdu_decode(raw, n, &p), 0);
	CHECK_EQ_INT(p.command_id, SMPP_BIND_TRANSMITTER_RESP);
	CHECK_EQ_INT(p.command_status, 0);
	CHECK_STR(p.system_id, "");
	n = unhex(HEX_KANNEL_SUBMIT_RESP, raw);
	CHECK_EQ_INT(smpp_pdu_decode(raw, n, &p), 0);
	CHECK_EQ_INT(p.command_id, SMPP_SUBMIT_SM_RESP);
	CHECK_EQ_INT(p.sequence, 2);
	CHECK_STR(p.message_id, "");
	n = unhex(HEX_KANNEL_DELIVER, raw);
	CHECK_EQ_INT(smpp_pdu_decode(raw, n, &p), 0);
	CHECK_EQ_INT(p.command_id, SMPP_DELIVER_SM);
	CHECK_EQ_INT(p.sequence, 0);
	CHECK_STR(p.source_addr, "456");
	CHECK_STR(p.destination_addr, "123");
	CHECK_EQ_INT(p.esm_class, 0);
	CHECK_EQ_INT(p.sm_length, 1);
	CHECK_EQ_INT(p.short_message[0], '1');
	CHECK_STR(p.receipted_message_id, "receipted_message_id");
}

static void test_vectors(void)
{
	uint8_t raw[512];
	char hex[1024];
	struct smpp_pdu p;

	size_t n = unhex(HEX_BIND, raw);
	CHECK_EQ_INT(smpp_pdu_decode(raw, n, &p), 0);
	CHECK_EQ_INT(p.command_id, SMPP_BIND_TRANSCEIVER);
	CHECK_EQ_INT(p.sequence, 1);
	CHECK_STR(p.system_id, "esme1");
	CHECK_STR(p.password, "pw");
	CHECK_STR(p.system_type, "");
	CHECK_EQ_INT(p.interface_version, 0x34);
	encode_hex(&p, hex, sizeof(hex));
	CHECK_STR(hex, HEX_BIND);

	n = unhex(HEX_SUBMIT, raw);
	CHECK_EQ_INT(smpp_pdu_decode(raw, n, &p), 0);
	CHECK_EQ_INT(p.command_id, SMPP_SUBMIT_SM);
	CHECK_STR(p.source_addr, "12345");
	CHECK_STR(p.destination_addr, "15550001111");
	CHECK_EQ_INT(p.source_addr_ton, 1);
	CHECK_EQ_INT(p.dest_addr_npi, 1);
	CHECK_EQ_INT(p.esm_class, 0x40);
	CHECK_EQ_INT(p.registered_delivery, 1);
	CHECK_EQ_INT(p.sm_length, 8);
	CHECK(memcmp(p.short_message, "\x05\x00\x03\xa1\x02\x01Hi", 8) == 0);
	CHECK_EQ_INT(p.message_state, -1);
	encode_hex(&p, hex, sizeof(hex));
	CHECK_STR(hex, HEX_SUBMIT);

	n = unhex(HEX_DELIVER, raw);
	CHECK_EQ_INT(smpp_pdu_decode(raw, n, &p), 0);
	CHECK_EQ_INT(p.command_id, SMPP_DELIVER_SM);
	CHECK_EQ_INT(p.esm_class, 0x04);
	CHECK_STR(p.receipted_message_id, "abc123");
	CHECK_EQ_INT(p.message_state, 2);
	CHECK_EQ_INT(p.sm_length, 98);
	struct smpp_receipt rc;
	CHECK_EQ_INT(smpp_receipt_parse((char *)p.short_message, p.sm_length, &rc), 0);
	CHECK_STR(rc.id, "abc123");
	CHECK_STR(rc.stat, "DELIVRD");
	CHECK_STR(rc.err, "000");
	/* the unknown TLV 0x1403 was skipped; the rest encodes to the same bytes */
	encode_hex(&p, hex, sizeof(hex));
	char want[1024];
	snprintf(want, sizeof(want), "%s", HEX_DELIVER);
	want[strlen(want) - 12] = 0;
	memcpy(want, "000000a3", 8);
	CHECK_STR(hex, want);

	n = unhex(HEX_NACK, raw);
	CHECK_EQ_INT(smpp_pdu_decode(raw, n, &p), 0);
	CHECK_EQ_INT(p.command_id, SMPP_GENERIC_NACK);
	CHECK_EQ_INT(p.command_status, SMPP_ESME_RINVCMDID);
	CHECK_EQ_INT(p.sequence, 7);
	encode_hex(&p, hex, sizeof(hex));
	CHECK_STR(hex, HEX_NACK);
}

/* ---- codec: round trips for every command ---- */

static void roundtrip(const struct smpp_pdu *in)
{
	struct buf b;
	struct smpp_pdu out;
	buf_init(&b, 0);
	CHECK_EQ_INT(smpp_pdu_encode(in, &b), 0);
	size_t len = 0;
	CHECK_EQ_INT(smpp_pdu_need((uint8_t *)b.p, b.len, &len), 0);
	CHECK_EQ_INT(len, b.len);
	CHECK_EQ_INT(smpp_pdu_decode((uint8_t *)b.p, b.len, &out), 0);
	struct smpp_pdu want = *in;
	if (want.message_state == 0)
		want.message_state = -1; /* 0 is "absent" on the encoding side */
	CHECK(memcmp(&out, &want, sizeof(out)) == 0);
	buf_free(&b);
}

static void test_roundtrips(void)
{
	static const uint32_t plain[] = {SMPP_GENERIC_NACK,	 SMPP_UNBIND,
					 SMPP_UNBIND_RESP,	 SMPP_ENQUIRE_LINK,
					 SMPP_ENQUIRE_LINK_RESP, SMPP_DELIVER_SM_RESP};
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		struct smpp_pdu p = {.command_id = plain[i],
				     .command_status = (uint32_t)i,
				     .sequence = 100 + (uint32_t)i,
				     .message_state = -1};
		roundtrip(&p);
	}
	struct smpp_pdu bind = {.command_id = SMPP_BIND_TRANSCEIVER,
				.sequence = 1,
				.system_id = "abcdefghijklmno",
				.password = "12345678",
				.system_type = "typetypetype",
				.interface_version = 0x34,
				.message_state = -1};
	roundtrip(&bind);
	struct smpp_pdu bresp = {.command_id = SMPP_BIND_TRANSCEIVER_RESP,
				 .sequence = 1,
				 .system_id = "SMSC",
				 .message_state = -1};
	roundtrip(&bresp);
	static const uint32_t binds[] = {SMPP_BIND_TRANSMITTER, SMPP_BIND_RECEIVER};
	for (int i = 0; i < 2; i++) {
		bind.command_id = binds[i];
		roundtrip(&bind);
		bresp.command_id = binds[i] | 0x80000000u;
		roundtrip(&bresp);
	}
	char hex[128];
	bind.command_id = SMPP_BIND_RECEIVER;
	snprintf(bind.system_id, sizeof(bind.system_id), "esme1");
	snprintf(bind.password, sizeof(bind.password), "pw");
	bind.system_type[0] = 0;
	encode_hex(&bind, hex, sizeof(hex));
	CHECK_STR(hex, "0000001e00000001000000000000000165736d6531007077000034000000");
	struct smpp_pdu sresp = {.command_id = SMPP_SUBMIT_SM_RESP,
				 .sequence = 9,
				 .message_id = "0123456789abcdef",
				 .message_state = -1};
	roundtrip(&sresp);
	struct smpp_pdu serr = {.command_id = SMPP_SUBMIT_SM_RESP,
				.sequence = 9,
				.command_status = SMPP_ESME_RTHROTTLED,
				.message_state = -1};
	roundtrip(&serr);
	struct smpp_pdu sm = {.command_id = SMPP_SUBMIT_SM,
			      .sequence = 0x7fffffff,
			      .service_type = "CMT",
			      .source_addr = "ALPHA",
			      .destination_addr = "+15550001111",
			      .source_addr_ton = 5,
			      .esm_class = 0x40,
			      .protocol_id = 1,
			      .priority_flag = 2,
			      .registered_delivery = 1,
			      .data_coding = 8,
			      .validity_period = "000000010000000R",
			      .sm_length = SMPP_SM_MAX,
			      .message_state = -1};
	for (int i = 0; i < SMPP_SM_MAX; i++)
		sm.short_message[i] = (uint8_t)i;
	roundtrip(&sm);
	struct smpp_pdu dl = {.command_id = SMPP_DELIVER_SM,
			      .sequence = 5,
			      .esm_class = 4,
			      .source_addr = "1",
			      .destination_addr = "2",
			      .sm_length = 3,
			      .short_message = "abc",
			      .receipted_message_id = "X1",
			      .message_state = 5};
	roundtrip(&dl);
	/* encode refuses fields over their maximum and unknown commands */
	struct buf b;
	buf_init(&b, 0);
	struct smpp_pdu bad = {.command_id = SMPP_SUBMIT_SM};
	memset(bad.source_addr, 'x', sizeof(bad.source_addr)); /* no room for the NUL */
	CHECK_EQ_INT(smpp_pdu_encode(&bad, &b), -EINVAL);
	struct smpp_pdu unk = {.command_id = 0x00000099};
	CHECK_EQ_INT(smpp_pdu_encode(&unk, &b), -EINVAL);
	CHECK_EQ_INT(b.len, 0);
	buf_free(&b);
}

/* ---- codec: malformed input ---- */

static void test_malformed(void)
{
	uint8_t raw[SMPP_PDU_MAX + 64];
	struct smpp_pdu p;
	size_t n = unhex(HEX_SUBMIT, raw);
	/* every truncation of a valid PDU, with command_length fixed up, is rejected */
	for (size_t cut = 16; cut < n; cut++) {
		uint8_t t[128];
		memcpy(t, raw, cut);
		t[0] = 0, t[1] = 0, t[2] = (uint8_t)(cut >> 8), t[3] = (uint8_t)cut;
		CHECK_EQ_INT(smpp_pdu_decode(t, cut, &p), -EINVAL);
	}
	/* command_length disagreeing with len */
	CHECK_EQ_INT(smpp_pdu_decode(raw, n - 1, &p), -EINVAL);
	CHECK_EQ_INT(smpp_pdu_decode(raw, 8, &p), -EINVAL);
	/* missing NUL: system_id of 16 bytes */
	n = unhex("0000002a000000090000000000000001"
		  "41414141414141414141414141414141"
		  "7077000034000000",
		  raw);
	raw[3] = (uint8_t)n;
	CHECK_EQ_INT(smpp_pdu_decode(raw, n, &p), -EINVAL);
	/* a short_message longer than the rest of the PDU */
	n = unhex(HEX_SUBMIT, raw);
	raw[n - 9] = 0x20;
	CHECK_EQ_INT(smpp_pdu_decode(raw, n, &p), -EINVAL);
	/* a truncated TLV */
	n = unhex(HEX_DELIVER, raw);
	raw[3] = (uint8_t)(n - 3);
	CHECK_EQ_INT(smpp_pdu_decode(raw, n - 3, &p), -EINVAL);
	/* trailing bytes after a header-only PDU */
	n = unhex("00000011000000150000000000000001ff", raw);
	CHECK_EQ_INT(smpp_pdu_decode(raw, n, &p), -EINVAL);
	/* an unknown command */
	n = unhex("00000010000000990000000000000001", raw);
	CHECK_EQ_INT(smpp_pdu_decode(raw, n, &p), -ENOTSUP);
	/* oversized */
	memset(raw, 0, sizeof(raw));
	raw[2] = (SMPP_PDU_MAX + 1) >> 8, raw[3] = (SMPP_PDU_MAX + 1) & 0xff;
	raw[7] = 0x15;
	CHECK_EQ_INT(smpp_pdu_decode(raw, SMPP_PDU_MAX + 1, &p), -E2BIG);
	size_t len = 0;
	CHECK_EQ_INT(smpp_pdu_need(raw, 16, &len), -E2BIG);
	raw[2] = 0, raw[3] = 15; /* below the header size */
	CHECK_EQ_INT(smpp_pdu_need(raw, 16, &len), -E2BIG);
}

static void test_need(void)
{
	uint8_t raw[128];
	size_t n = unhex(HEX_SUBMIT, raw), len = 0;
	CHECK_EQ_INT(smpp_pdu_need(raw, 0, &len), 16);
	CHECK_EQ_INT(smpp_pdu_need(raw, 3, &len), 13);
	CHECK_EQ_INT(smpp_pdu_need(raw, 4, &len), (int)n - 4);
	CHECK_EQ_INT(smpp_pdu_need(raw, 20, &len), (int)n - 20);
	CHECK_EQ_INT(smpp_pdu_need(raw, n - 1, &len), 1);
	CHECK_EQ_INT(len, 0);
	CHECK_EQ_INT(smpp_pdu_need(raw, n, &len), 0);
	CHECK_EQ_INT(len, n);
	CHECK_EQ_INT(smpp_pdu_need(raw, sizeof(raw), &len), 0); /* more than one PDU */
	CHECK_EQ_INT(len, n);
}

/* ---- receipt text ---- */

static void receipt_ok(const char *text, const char *id, const char *stat, const char *err)
{
	struct smpp_receipt r;
	int e = smpp_receipt_parse(text, strlen(text), &r);
	CHECK_EQ_INT(e, 0);
	if (e == 0) {
		CHECK_STR(r.id, id);
		CHECK_STR(r.stat, stat);
		CHECK_STR(r.err, err);
	}
}

static void test_receipts(void)
{
	receipt_ok("id:0123456789 sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 "
		   "stat:DELIVRD err:000 text:Hello world",
		   "0123456789", "DELIVRD", "000");
	receipt_ok("ID:abc SUB:001 DLVRD:000 SUBMIT DATE:2501011200 DONE DATE:2501011201 "
		   "STAT:UNDELIV ERR:001 TEXT:",
		   "abc", "UNDELIV", "001");
	receipt_ok("id:7f3a stat:expired", "7f3a", "EXPIRED", ""); /* few fields */
	receipt_ok("Id:42 Sub:1 Dlvrd:1 Stat:DELIVRD Err:0", "42", "DELIVRD", "0");
	receipt_ok("ACK/ id:99 stat:ACCEPTD err:0 text:id:1 stat:REJECTD", "99", "ACCEPTD", "0");
	receipt_ok("id:X1 submit date:2501011200 done date:2501011201 stat:REJECTD err:0x0B", "X1",
		   "REJECTD", "0x0B");
	struct smpp_receipt r;
	CHECK_EQ_INT(smpp_receipt_parse("hello there", 11, &r), -EINVAL);
	CHECK_EQ_INT(smpp_receipt_parse("id:1 sub:001", 12, &r), -EINVAL);	 /* no stat */
	CHECK_EQ_INT(smpp_receipt_parse("stat:DELIVRD err:0", 18, &r), -EINVAL); /* no id */
	CHECK_EQ_INT(smpp_receipt_parse("uid:1 stat:DELIVRD", 18, &r), -EINVAL); /* not a key */
	CHECK_EQ_INT(smpp_receipt_parse("text:id:1 stat:DELIVRD", 22, &r), -EINVAL);
	CHECK_EQ_INT(smpp_receipt_parse("id: stat:DELIVRD", 16, &r), -EINVAL);
	CHECK_EQ_INT(smpp_receipt_parse("id:1 stat:DELIVERED", 19, &r), -EINVAL); /* too long */
	CHECK_EQ_INT(smpp_receipt_parse("id:1 stat:DELIVRD", 8, &r), -EINVAL);	  /* len honoured */
}

/* ---- a fake SMSC on 127.0.0.1 ---- */

#define NMSG 64

struct fake {
	int lfd, port;
	pthread_t th;
	atomic_bool stop;
	/* behaviour */
	int throttle_first;	  /* answer ESME_RTHROTTLED to the first N submits */
	int silent_first;	  /* never answer the first N submits */
	int drop_at;		  /* close the connection on receiving the Nth submit (once) */
	int ignore_enquire_conns; /* on this many first connections enquire_link gets no answer */
	bool garbage;		  /* after the bind: an unknown command and a broken deliver_sm */
	bool receipt_first;	  /* a receipt before each submit_sm_resp */
	bool mo;		  /* an MO deliver_sm after the bind */
	bool hold;		  /* never answer submits */
	uint32_t bind_resp_cmd;	  /* answer binds with this command (0: the matching resp) */
	/* what happened */
	atomic_int conns, binds, submits, enquires, unbinds, deliver_resps, nacks;
	atomic_uint bind_cmd; /* the last bind's command_id */
	atomic_int seen[NMSG];
	atomic_uint nack_seq[4], nack_status[4];
	atomic_uint mo_resp_status;
};

static void fake_send(int fd, const struct smpp_pdu *p)
{
	struct buf b;
	buf_init(&b, 0);
	if (smpp_pdu_encode(p, &b) < 0)
		abort();
	if (send(fd, b.p, b.len, MSG_NOSIGNAL) < 0)
		(void)0; /* the client may be gone */
	buf_free(&b);
}

static void fake_send_raw(int fd, const char *hex)
{
	uint8_t raw[256];
	size_t n = unhex(hex, raw);
	if (send(fd, raw, n, MSG_NOSIGNAL) < 0)
		(void)0;
}

static void fake_receipt(int fd, int idx, const char *id)
{
	struct smpp_pdu d = {.command_id = SMPP_DELIVER_SM,
			     .sequence = 1000u + (uint32_t)idx,
			     .esm_class = 4,
			     .source_addr = "15550001111",
			     .destination_addr = "12345",
			     .message_state = 2};
	snprintf(d.receipted_message_id, sizeof(d.receipted_message_id), "%s", id);
	d.sm_length = (uint8_t)snprintf((char *)d.short_message, sizeof(d.short_message),
					"id:%s sub:001 dlvrd:001 stat:DELIVRD err:000 text:", id);
	fake_send(fd, &d);
}

/* Answers one PDU; false to close the connection. */
static bool fake_pdu(struct fake *f, int fd, const struct smpp_pdu *p, int conn)
{
	struct smpp_pdu r = {.command_id = p->command_id | 0x80000000u, .sequence = p->sequence};
	switch (p->command_id) {
	case SMPP_BIND_TRANSCEIVER:
	case SMPP_BIND_TRANSMITTER:
	case SMPP_BIND_RECEIVER:
		atomic_fetch_add(&f->binds, 1);
		atomic_store(&f->bind_cmd, p->command_id);
		if (f->bind_resp_cmd)
			r.command_id = f->bind_resp_cmd;
		if (strcmp(p->system_id, "esme1") != 0 || strcmp(p->password, "pw") != 0)
			r.command_status = 0x0E; /* ESME_RINVPASWD */
		snprintf(r.system_id, sizeof(r.system_id), "FAKE");
		fake_send(fd, &r);
		if (f->garbage) {
			fake_send_raw(fd, "00000010000000990000000000000077");
			/* a deliver_sm whose service_type has no NUL */
			fake_send_raw(fd, "00000018000000050000000000000078"
					  "4141414141414141");
		}
		if (f->mo) {
			struct smpp_pdu d = {.command_id = SMPP_DELIVER_SM,
					     .sequence = 500,
					     .source_addr = "15550009999",
					     .destination_addr = "12345",
					     .sm_length = 8,
					     .short_message = "hello MO",
					     .message_state = -1};
			fake_send(fd, &d);
		}
		return true;
	case SMPP_SUBMIT_SM: {
		int n = atomic_fetch_add(&f->submits, 1) + 1;
		int idx = -1;
		if (sscanf((const char *)p->short_message, "m%d", &idx) == 1 && idx >= 0 &&
		    idx < NMSG)
			atomic_fetch_add(&f->seen[idx], 1);
		if (f->drop_at && n == f->drop_at) {
			f->drop_at = 0;
			return false;
		}
		if (f->hold || n <= f->silent_first)
			return true;
		if (n <= f->throttle_first) {
			r.command_status = SMPP_ESME_RTHROTTLED;
			fake_send(fd, &r);
			return true;
		}
		snprintf(r.message_id, sizeof(r.message_id), "id%d-%d", idx, n);
		if (f->receipt_first)
			fake_receipt(fd, idx, r.message_id);
		fake_send(fd, &r);
		return true;
	}
	case SMPP_ENQUIRE_LINK:
		atomic_fetch_add(&f->enquires, 1);
		if (conn > f->ignore_enquire_conns)
			fake_send(fd, &r);
		return true;
	case SMPP_UNBIND:
		atomic_fetch_add(&f->unbinds, 1);
		fake_send(fd, &r);
		return false;
	case SMPP_DELIVER_SM_RESP:
		atomic_fetch_add(&f->deliver_resps, 1);
		if (p->sequence == 500)
			atomic_store(&f->mo_resp_status, p->command_status + 1);
		return true;
	case SMPP_GENERIC_NACK: {
		int k = atomic_fetch_add(&f->nacks, 1);
		if (k < 4) {
			atomic_store(&f->nack_seq[k], p->sequence);
			atomic_store(&f->nack_status[k], p->command_status);
		}
		return true;
	}
	}
	return true;
}

static void fake_conn(struct fake *f, int fd, int conn)
{
	uint8_t in[8192];
	size_t len = 0;
	while (!atomic_load(&f->stop)) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (poll(&pf, 1, 20) <= 0)
			continue;
		ssize_t n = recv(fd, in + len, sizeof(in) - len, 0);
		if (n <= 0)
			return;
		len += (size_t)n;
		size_t off = 0, plen;
		while (smpp_pdu_need(in + off, len - off, &plen) == 0) {
			struct smpp_pdu p;
			if (smpp_pdu_decode(in + off, plen, &p) < 0)
				abort();
			if (!fake_pdu(f, fd, &p, conn))
				return;
			off += plen;
		}
		memmove(in, in + off, len - off);
		len -= off;
	}
}

static void *fake_run(void *arg)
{
	struct fake *f = arg;
	while (!atomic_load(&f->stop)) {
		struct pollfd pf = {.fd = f->lfd, .events = POLLIN};
		if (poll(&pf, 1, 20) <= 0)
			continue;
		int fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		int conn = atomic_fetch_add(&f->conns, 1) + 1;
		fake_conn(f, fd, conn);
		close(fd);
	}
	return NULL;
}

static void fake_start(struct fake *f)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(f->lfd, 8) < 0 || getsockname(f->lfd, (struct sockaddr *)&a, &al) < 0)
		abort();
	f->port = ntohs(a.sin_port);
	pthread_create(&f->th, NULL, fake_run, f);
}

static void fake_stop(struct fake *f)
{
	atomic_store(&f->stop, true);
	pthread_join(f->th, NULL);
	close(f->lfd);
}

/* ---- the client's view ---- */

struct seen {
	atomic_int ok[NMSG], err[NMSG], sys[NMSG];
	atomic_int results, receipts, mos, ups, downs;
	atomic_int receipt_ok[NMSG]; /* receipt id matched a submit id */
	uint32_t mo_answer;
	char ids[NMSG][65];
	pthread_mutex_t lock;
};

static void on_submitted(const struct smpp_submit_result *r, void *arg)
{
	struct seen *s = arg;
	int i = (int)(intptr_t)r->arg;
	if (r->status == SMPP_ESME_ROK) {
		atomic_fetch_add(&s->ok[i], 1);
		pthread_mutex_lock(&s->lock);
		snprintf(s->ids[i], sizeof(s->ids[i]), "%s", r->message_id ? r->message_id : "");
		pthread_mutex_unlock(&s->lock);
	} else if (r->status == SMPP_ESME_RSYSERR) {
		atomic_fetch_add(&s->sys[i], 1);
	} else {
		atomic_fetch_add(&s->err[i], 1);
	}
	atomic_fetch_add(&s->results, 1);
}

static uint32_t on_delivered(const struct smpp_deliver *d, void *arg)
{
	struct seen *s = arg;
	if (!d->is_receipt) {
		atomic_fetch_add(&s->mos, 1);
		return s->mo_answer;
	}
	int idx = -1, n = 0;
	if (sscanf(d->receipt.id, "id%d-%d", &idx, &n) == 2 && idx >= 0 && idx < NMSG &&
	    strcmp(d->receipt.stat, "DELIVRD") == 0)
		atomic_fetch_add(&s->receipt_ok[idx], 1);
	atomic_fetch_add(&s->receipts, 1);
	return SMPP_ESME_ROK;
}

static void on_bound(bool up, const char *why, void *arg)
{
	struct seen *s = arg;
	atomic_fetch_add(up ? &s->ups : &s->downs, 1);
}

static struct smpp_client *client_of(struct fake *f, struct seen *s, int window, int el_s,
				     enum smpp_bind_type type)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	struct smpp_config cfg = {.host = "127.0.0.1",
				  .port = f->port,
				  .system_id = "esme1",
				  .password = "pw",
				  .window = window,
				  .enquire_link_s = el_s,
				  .response_timeout_ms = 300,
				  .rebind_min_ms = 20,
				  .rebind_max_ms = 200,
				  .bind_type = type};
	struct smpp_callbacks cb = {on_submitted, on_delivered, on_bound, s};
	struct smpp_client *c = NULL;
	CHECK_EQ_INT(smpp_client_new(&cfg, &cb, &c), 0);
	return c;
}

static struct smpp_client *client(struct fake *f, struct seen *s, int window, int el_s)
{
	return client_of(f, s, window, el_s, SMPP_TRANSCEIVER);
}

static void submit_n(struct smpp_client *c, int n)
{
	for (int i = 0; i < n; i++) {
		char text[16];
		int len = snprintf(text, sizeof(text), "m%d", i);
		struct smpp_submit s = {.source_addr = "12345",
					.destination_addr = "15550001111",
					.registered_delivery = 1,
					.short_message = (uint8_t *)text,
					.sm_length = (size_t)len,
					.arg = (void *)(intptr_t)i};
		CHECK_EQ_INT(smpp_submit(c, &s), 0);
	}
}

static bool wait_results(struct seen *s, int n, int ms)
{
	for (int t = 0; t < ms; t += 5) {
		if (atomic_load(&s->results) >= n)
			return true;
		sleep_ms(5);
	}
	return false;
}

/* every one of n submits has exactly one ROK result */
static void check_all_ok(struct seen *s, int n)
{
	int once = 0;
	for (int i = 0; i < n; i++)
		once += atomic_load(&s->ok[i]) == 1 && atomic_load(&s->err[i]) == 0 &&
			atomic_load(&s->sys[i]) == 0;
	CHECK_EQ_INT(once, n);
}

static void test_client_throttle(void)
{
	struct fake f = {.throttle_first = 5};
	struct seen s;
	fake_start(&f);
	struct smpp_client *c = client(&f, &s, 5, 30);
	submit_n(c, 20);
	CHECK(wait_results(&s, 20, 10000));
	check_all_ok(&s, 20);
	struct smpp_stats st;
	smpp_client_stats(c, &st);
	CHECK_EQ_INT(st.throttled, 5);
	CHECK_EQ_INT(st.resp_ok, 20);
	CHECK_EQ_INT(st.submitted, 25);
	CHECK_EQ_INT(atomic_load(&f.submits), 25);
	CHECK_EQ_INT(st.rebinds, 0);
	smpp_client_free(c);
	CHECK_EQ_INT(atomic_load(&s.results), 20); /* nothing reported twice at shutdown */
	CHECK_EQ_INT(atomic_load(&f.unbinds), 1);
	fake_stop(&f);
}

static void test_client_timeout_resend(void)
{
	struct fake f = {.silent_first = 3};
	struct seen s;
	fake_start(&f);
	struct smpp_client *c = client(&f, &s, 10, 30);
	submit_n(c, 10);
	CHECK(wait_results(&s, 10, 10000));
	check_all_ok(&s, 10);
	struct smpp_stats st;
	smpp_client_stats(c, &st);
	CHECK_EQ_INT(st.resent, 3);
	CHECK_EQ_INT(atomic_load(&f.submits), 13);
	smpp_client_free(c);
	fake_stop(&f);
}

static void test_client_drop(void)
{
	struct fake f = {.drop_at = 7};
	struct seen s;
	fake_start(&f);
	struct smpp_client *c = client(&f, &s, 10, 30);
	submit_n(c, 40);
	CHECK(wait_results(&s, 40, 10000));
	check_all_ok(&s, 40);
	struct smpp_stats st;
	smpp_client_stats(c, &st);
	CHECK_EQ_INT(st.rebinds, 1);
	CHECK_EQ_INT(atomic_load(&f.binds), 2);
	CHECK(st.resent >= 1);
	int dup = 0, missing = 0;
	for (int i = 0; i < 40; i++) {
		dup += atomic_load(&f.seen[i]) > 1;
		missing += atomic_load(&f.seen[i]) == 0;
	}
	CHECK_EQ_INT(missing, 0);
	CHECK(dup >= 1); /* the unacknowledged window was sent again */
	CHECK_EQ_INT(atomic_load(&s.ups), 2);
	CHECK_EQ_INT(atomic_load(&s.downs), 1);
	smpp_client_free(c);
	fake_stop(&f);
}

static void test_client_enquire_unanswered(void)
{
	struct fake f = {.ignore_enquire_conns = 1};
	struct seen s;
	fake_start(&f);
	struct smpp_client *c = client(&f, &s, 10, 1);
	for (int t = 0; t < 5000 && atomic_load(&f.binds) < 2; t += 10)
		sleep_ms(10);
	CHECK_EQ_INT(atomic_load(&f.binds), 2);
	CHECK(atomic_load(&f.enquires) >= 1);
	submit_n(c, 3);
	CHECK(wait_results(&s, 3, 5000));
	check_all_ok(&s, 3);
	struct smpp_stats st;
	smpp_client_stats(c, &st);
	CHECK_EQ_INT(st.rebinds, 1);
	CHECK(smpp_client_bound(c));
	smpp_client_free(c);
	fake_stop(&f);
}

static void test_client_garbage_and_mo(void)
{
	struct fake f = {.garbage = true, .mo = true};
	struct seen s;
	fake_start(&f);
	struct smpp_client *c = client(&f, &s, 10, 30);
	s.mo_answer = SMPP_ESME_RSYSERR; /* the callback's status goes back to the SMSC */
	submit_n(c, 5);
	CHECK(wait_results(&s, 5, 5000));
	check_all_ok(&s, 5);
	for (int t = 0; t < 2000 && !atomic_load(&f.mo_resp_status); t += 5)
		sleep_ms(5);
	CHECK_EQ_INT(atomic_load(&f.nacks), 2);
	CHECK_EQ_INT(atomic_load(&f.nack_seq[0]), 0x77);
	CHECK_EQ_INT(atomic_load(&f.nack_status[0]), SMPP_ESME_RINVCMDID);
	CHECK_EQ_INT(atomic_load(&f.nack_seq[1]), 0x78);
	CHECK_EQ_INT(atomic_load(&f.nack_status[1]), SMPP_ESME_RINVCMDLEN);
	CHECK_EQ_INT(atomic_load(&f.binds), 1); /* the bind survived */
	CHECK_EQ_INT(atomic_load(&s.mos), 1);
	CHECK_EQ_INT(atomic_load(&f.mo_resp_status), SMPP_ESME_RSYSERR + 1);
	struct smpp_stats st;
	smpp_client_stats(c, &st);
	CHECK_EQ_INT(st.generic_nacks, 2);
	CHECK_EQ_INT(st.delivered, 1);
	smpp_client_free(c);
	fake_stop(&f);
}

static void test_client_receipt_first(void)
{
	struct fake f = {.receipt_first = true};
	struct seen s;
	fake_start(&f);
	struct smpp_client *c = client(&f, &s, 10, 30);
	submit_n(c, 20);
	CHECK(wait_results(&s, 20, 5000));
	check_all_ok(&s, 20);
	int matched = 0;
	for (int i = 0; i < 20; i++)
		matched += atomic_load(&s.receipt_ok[i]) == 1;
	CHECK_EQ_INT(matched, 20);
	CHECK_EQ_INT(atomic_load(&s.receipts), 20);
	for (int t = 0; t < 2000 && atomic_load(&f.deliver_resps) < 20; t += 5)
		sleep_ms(5);
	CHECK_EQ_INT(atomic_load(&f.deliver_resps), 20);
	smpp_client_free(c);
	fake_stop(&f);
}

static void test_client_free_pending(void)
{
	struct fake f = {.hold = true};
	struct seen s;
	fake_start(&f);
	struct smpp_client *c = client(&f, &s, 4, 30);
	submit_n(c, 10); /* 4 in the window, 6 queued */
	for (int t = 0; t < 2000 && atomic_load(&f.submits) < 4; t += 5)
		sleep_ms(5);
	struct smpp_stats st;
	smpp_client_stats(c, &st);
	CHECK_EQ_INT(st.in_window, 4);
	CHECK_EQ_INT(st.queued, 6);
	smpp_client_free(c);
	int once = 0;
	for (int i = 0; i < 10; i++)
		once += atomic_load(&s.sys[i]) == 1 && atomic_load(&s.ok[i]) == 0;
	CHECK_EQ_INT(once, 10);
	CHECK_EQ_INT(atomic_load(&f.unbinds), 1);
	fake_stop(&f);
}

static void test_client_bad_password_and_limits(void)
{
	struct fake f = {0};
	struct seen s;
	fake_start(&f);
	memset(&s, 0, sizeof(s));
	struct smpp_config cfg = {.host = "127.0.0.1",
				  .port = f.port,
				  .system_id = "esme1",
				  .password = "wrong",
				  .rebind_min_ms = 20,
				  .rebind_max_ms = 50,
				  .queue_max = 3};
	struct smpp_callbacks cb = {on_submitted, on_delivered, on_bound, &s};
	struct smpp_client *c = NULL;
	CHECK_EQ_INT(smpp_client_new(&cfg, &cb, &c), 0);
	for (int t = 0; t < 3000 && atomic_load(&f.binds) < 3; t += 5)
		sleep_ms(5);
	CHECK(atomic_load(&f.binds) >= 3); /* refused, retried with backoff */
	CHECK(!smpp_client_bound(c));
	submit_n(c, 3);
	uint8_t big[SMPP_SM_MAX + 1] = {0};
	struct smpp_submit sub = {.destination_addr = "1", .short_message = big, .sm_length = 4};
	CHECK_EQ_INT(smpp_submit(c, &sub), -EAGAIN); /* queue_max */
	sub.sm_length = sizeof(big);
	CHECK_EQ_INT(smpp_submit(c, &sub), -EINVAL);
	sub.sm_length = 1;
	sub.destination_addr = "123456789012345678901";
	CHECK_EQ_INT(smpp_submit(c, &sub), -EINVAL);
	smpp_client_free(c);
	CHECK_EQ_INT(atomic_load(&s.results), 3);
	CHECK_EQ_INT(atomic_load(&s.ups), 0);
	cfg.password = "toolongpassword";
	CHECK_EQ_INT(smpp_client_new(&cfg, &cb, &c), -EINVAL);
	smpp_client_free(NULL);
	fake_stop(&f);
}

static bool wait_bound(struct smpp_client *c, int ms)
{
	for (int t = 0; t < ms && !smpp_client_bound(c); t += 5)
		sleep_ms(5);
	return smpp_client_bound(c);
}

/* SMSCs without bind_transceiver (Kannel's drive_smpp): a transmitter submits, a receiver
   gets deliver_sm and refuses submits, and only the resp of the bind sent counts. */
static void test_client_bind_types(void)
{
	struct fake f = {0};
	struct seen s;
	fake_start(&f);
	struct smpp_client *c = client_of(&f, &s, 10, 30, SMPP_TRANSMITTER);
	CHECK(wait_bound(c, 2000));
	CHECK_EQ_INT(atomic_load(&f.bind_cmd), SMPP_BIND_TRANSMITTER);
	submit_n(c, 3);
	CHECK(wait_results(&s, 3, 5000));
	check_all_ok(&s, 3);
	smpp_client_free(c);
	CHECK_EQ_INT(atomic_load(&f.unbinds), 1);
	fake_stop(&f);

	struct fake g = {.mo = true};
	fake_start(&g);
	c = client_of(&g, &s, 10, 30, SMPP_RECEIVER);
	CHECK(wait_bound(c, 2000));
	CHECK_EQ_INT(atomic_load(&g.bind_cmd), SMPP_BIND_RECEIVER);
	for (int t = 0; t < 2000 && atomic_load(&s.mos) < 1; t += 5)
		sleep_ms(5);
	CHECK_EQ_INT(atomic_load(&s.mos), 1);
	struct smpp_submit sub = {
	    .destination_addr = "1", .short_message = (uint8_t *)"x", .sm_length = 1};
	CHECK_EQ_INT(smpp_submit(c, &sub), -ENOTSUP);
	smpp_client_free(c);
	CHECK_EQ_INT(atomic_load(&s.results), 0); /* the refused submit never calls back */
	CHECK_EQ_INT(atomic_load(&g.submits), 0);
	fake_stop(&g);

	/* a bind_transceiver_resp to a bind_transmitter: not bound, tried again */
	struct fake h = {.bind_resp_cmd = SMPP_BIND_TRANSCEIVER_RESP};
	fake_start(&h);
	c = client_of(&h, &s, 10, 30, SMPP_TRANSMITTER);
	for (int t = 0; t < 3000 && atomic_load(&h.binds) < 2; t += 5)
		sleep_ms(5);
	CHECK(atomic_load(&h.binds) >= 2);
	CHECK(!smpp_client_bound(c));
	CHECK_EQ_INT(atomic_load(&s.ups), 0);
	smpp_client_free(c);
	fake_stop(&h);

	struct smpp_config bad = {.host = "127.0.0.1", .port = 1, .bind_type = 3};
	CHECK_EQ_INT(smpp_client_new(&bad, NULL, &c), -EINVAL);
}

int main(void)
{
	test_vectors();
	test_kannel_vectors();
	test_roundtrips();
	test_malformed();
	test_need();
	test_receipts();
	test_client_throttle();
	test_client_timeout_resend();
	test_client_drop();
	test_client_enquire_unanswered();
	test_client_garbage_and_mo();
	test_client_receipt_first();
	test_client_free_pending();
	test_client_bad_password_and_limits();
	test_client_bind_types();
	return test_done("smpp");
}
