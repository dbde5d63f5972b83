/* smpp_pdu.c: SMPP 3.4 PDU codec (the commands IRISX uses) with size caps, and the parser of
   delivery-receipt text. */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "smpp.h"

#define HDR_LEN 16
#define TLV_RECEIPTED_MESSAGE_ID 0x001E
#define TLV_MESSAGE_PAYLOAD 0x0424
#define TLV_MESSAGE_STATE 0x0427

/* ---- encoding ---- */

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A C-Octet String of at most max bytes including its NUL. */
static int put_cstr(struct buf *b, const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	if (n >= max)
		return -EINVAL;
	return buf_append(b, s, n + 1);
}

static int put8(struct buf *b, uint8_t v)
{
	return buf_append(b, &v, 1);
}

static int put_tlv(struct buf *b, uint16_t tag, const void *v, uint16_t n)
{
	uint8_t h[4] = {(uint8_t)(tag >> 8), (uint8_t)tag, (uint8_t)(n >> 8), (uint8_t)n};
	int r = buf_append(b, h, 4);
	return r < 0 ? r : buf_append(b, v, n);
}

static int enc_bind(const struct smpp_pdu *p, struct buf *b)
{
	int r = 0;
	r |= put_cstr(b, p->system_id, sizeof(p->system_id));
	r |= put_cstr(b, p->password, sizeof(p->password));
	r |= put_cstr(b, p->system_type, sizeof(p->system_type));
	r |= put8(b, p->interface_version);
	r |= put8(b, 0); /* addr_ton */
	r |= put8(b, 0); /* addr_npi */
	r |= put8(b, 0); /* address_range "" */
	return r ? -EINVAL : 0;
}

static int enc_sm(const struct smpp_pdu *p, struct buf *b)
{
	int r = 0;
	if (p->sm_length > SMPP_SM_MAX)
		return -EINVAL;
	r |= put_cstr(b, p->service_type, sizeof(p->service_type));
	r |= put8(b, p->source_addr_ton);
	r |= put8(b, p->source_addr_npi);
	r |= put_cstr(b, p->source_addr, sizeof(p->source_addr));
	r |= put8(b, p->dest_addr_ton);
	r |= put8(b, p->dest_addr_npi);
	r |= put_cstr(b, p->destination_addr, sizeof(p->destination_addr));
	r |= put8(b, p->esm_class);
	r |= put8(b, p->protocol_id);
	r |= put8(b, p->priority_flag);
	r |= put_cstr(b, p->schedule_delivery_time, sizeof(p->schedule_delivery_time));
	r |= put_cstr(b, p->validity_period, sizeof(p->validity_period));
	r |= put8(b, p->registered_delivery);
	r |= put8(b, 0); /* replace_if_present_flag */
	r |= put8(b, p->data_coding);
	r |= put8(b, 0); /* sm_default_msg_id */
	r |= put8(b, p->sm_length);
	r |= buf_append(b, p->short_message, p->sm_length);
	if (r)
		return -EINVAL;
	if (p->receipted_message_id[0]) {
		size_t n = strnlen(p->receipted_message_id, sizeof(p->receipted_message_id));
		if (n >= sizeof(p->receipted_message_id))
			return -EINVAL;
		r |= put_tlv(b, TLV_RECEIPTED_MESSAGE_ID, p->receipted_message_id,
			     (uint16_t)(n + 1));
	}
	if (p->message_state > 0 && p->message_state < 256) {
		uint8_t st = (uint8_t)p->message_state;
		r |= put_tlv(b, TLV_MESSAGE_STATE, &st, 1);
	}
	return r ? -EINVAL : 0;
}

static int enc_body(const struct smpp_pdu *p, struct buf *b)
{
	switch (p->command_id) {
	case SMPP_BIND_TRANSCEIVER:
	case SMPP_BIND_TRANSMITTER:
	case SMPP_BIND_RECEIVER:
		return enc_bind(p, b);
	case SMPP_BIND_TRANSCEIVER_RESP:
	case SMPP_BIND_TRANSMITTER_RESP:
	case SMPP_BIND_RECEIVER_RESP:
		return put_cstr(b, p->system_id, sizeof(p->system_id));
	case SMPP_SUBMIT_SM:
	case SMPP_DELIVER_SM:
		return enc_sm(p, b);
	case SMPP_SUBMIT_SM_RESP:
		if (p->command_status != SMPP_ESME_ROK && !p->message_id[0])
			return 0; /* an error resp carries no body */
		return put_cstr(b, p->message_id, sizeof(p->message_id));
	case SMPP_DELIVER_SM_RESP:
		return put8(b, 0); /* message_id: unused, NULL */
	case SMPP_GENERIC_NACK:
	case SMPP_UNBIND:
	case SMPP_UNBIND_RESP:
	case SMPP_ENQUIRE_LINK:
	case SMPP_ENQUIRE_LINK_RESP:
		return 0;
	}
	return -EINVAL;
}

int smpp_pdu_encode(const struct smpp_pdu *p, struct buf *out)
{
	size_t start = out->len;
	uint8_t h[HDR_LEN] = {0};
	int r = buf_append(out, h, HDR_LEN);
	if (r < 0)
		return r;
	r = enc_body(p, out);
	if (r >= 0 && out->len - start > SMPP_PDU_MAX)
		r = -EINVAL;
	if (r < 0) {
		out->len = start;
		return r;
	}
	uint8_t *hp = (uint8_t *)out->p + start;
	put32(hp, (uint32_t)(out->len - start));
	put32(hp + 4, p->command_id);
	put32(hp + 8, p->command_status);
	put32(hp + 12, p->sequence);
	return 0;
}

/* ---- decoding ---- */

struct rd {
	const uint8_t *p;
	size_t n;
};

static int get8(struct rd *r, uint8_t *v)
{
	if (r->n < 1)
		return -EINVAL;
	*v = *r->p++;
	r->n--;
	return 0;
}

/* Copies a C-Octet String of at most max bytes (NUL included) into out[max]. */
static int get_cstr(struct rd *r, char *out, size_t max)
{
	size_t lim = r->n < max ? r->n : max;
	const uint8_t *z = memchr(r->p, 0, lim);
	if (!z)
		return -EINVAL;
	size_t n = (size_t)(z - r->p);
	memcpy(out, r->p, n);
	out[n] = 0;
	r->p += n + 1;
	r->n -= n + 1;
	return 0;
}

/* Walks the TLVs; the ones of interest are read only when p is not NULL. */
static int dec_tlvs(struct rd *r, struct smpp_pdu *p)
{
	while (r->n > 0) {
		if (r->n < 4)
			return -EINVAL;
		uint16_t tag = (uint16_t)(r->p[0] << 8 | r->p[1]);
		uint16_t len = (uint16_t)(r->p[2] << 8 | r->p[3]);
		r->p += 4;
		r->n -= 4;
		if (len > r->n)
			return -EINVAL;
		const uint8_t *v = r->p;
		if (!p) {
			/* skipped */
		} else if (tag == TLV_RECEIPTED_MESSAGE_ID) {
			/* some SMSCs omit the NUL: accept both, cap the length */
			size_t n = len && v[len - 1] == 0 ? len - 1u : len;
			if (n >= sizeof(p->receipted_message_id) || memchr(v, 0, n))
				return -EINVAL;
			memcpy(p->receipted_message_id, v, n);
			p->receipted_message_id[n] = 0;
		} else if (tag == TLV_MESSAGE_STATE) {
			if (len != 1)
				return -EINVAL;
			p->message_state = v[0];
		} else if (tag == TLV_MESSAGE_PAYLOAD && p->sm_length == 0) {
			size_t n = len < SMPP_SM_MAX ? len : SMPP_SM_MAX;
			memcpy(p->short_message, v, n);
			p->sm_length = (uint8_t)n;
		}
		r->p += len;
		r->n -= len;
	}
	return 0;
}

static int dec_bind(struct rd *r, struct smpp_pdu *p)
{
	char range[41];
	uint8_t ton, npi;
	if (get_cstr(r, p->system_id, sizeof(p->system_id)) < 0 ||
	    get_cstr(r, p->password, sizeof(p->password)) < 0 ||
	    get_cstr(r, p->system_type, sizeof(p->system_type)) < 0 ||
	    get8(r, &p->interface_version) < 0 || get8(r, &ton) < 0 || get8(r, &npi) < 0 ||
	    get_cstr(r, range, sizeof(range)) < 0)
		return -EINVAL;
	return r->n ? -EINVAL : 0;
}

static int dec_sm(struct rd *r, struct smpp_pdu *p)
{
	uint8_t replace, def_id;
	if (get_cstr(r, p->service_type, sizeof(p->service_type)) < 0 ||
	    get8(r, &p->source_addr_ton) < 0 || get8(r, &p->source_addr_npi) < 0 ||
	    get_cstr(r, p->source_addr, sizeof(p->source_addr)) < 0 ||
	    get8(r, &p->dest_addr_ton) < 0 || get8(r, &p->dest_addr_npi) < 0 ||
	    get_cstr(r, p->destination_addr, sizeof(p->destination_addr)) < 0 ||
	    get8(r, &p->esm_class) < 0 || get8(r, &p->protocol_id) < 0 ||
	    get8(r, &p->priority_flag) < 0 ||
	    get_cstr(r, p->schedule_delivery_time, sizeof(p->schedule_delivery_time)) < 0 ||
	    get_cstr(r, p->validity_period, sizeof(p->validity_period)) < 0 ||
	    get8(r, &p->registered_delivery) < 0 || get8(r, &replace) < 0 ||
	    get8(r, &p->data_coding) < 0 || get8(r, &def_id) < 0 || get8(r, &p->sm_length) < 0)
		return -EINVAL;
	if (p->sm_length > SMPP_SM_MAX || p->sm_length > r->n)
		return -EINVAL;
	memcpy(p->short_message, r->p, p->sm_length);
	r->p += p->sm_length;
	r->n -= p->sm_length;
	return dec_tlvs(r, p);
}

/* A resp body that is a C-Octet String, absent when the status is an error. */
static int dec_resp_str(struct rd *r, const struct smpp_pdu *p, char *out, size_t max)
{
	if (r->n == 0 &&
	    (p->command_status != SMPP_ESME_ROK || p->command_id == SMPP_DELIVER_SM_RESP))
		return 0;
	return get_cstr(r, out, max);
}

static int dec_body(struct rd *r, struct smpp_pdu *p)
{
	char unused[65];
	int e;
	switch (p->command_id) {
	case SMPP_BIND_TRANSCEIVER:
	case SMPP_BIND_TRANSMITTER:
	case SMPP_BIND_RECEIVER:
		return dec_bind(r, p);
	case SMPP_BIND_TRANSCEIVER_RESP:
	case SMPP_BIND_TRANSMITTER_RESP:
	case SMPP_BIND_RECEIVER_RESP:
		e = dec_resp_str(r, p, p->system_id, sizeof(p->system_id));
		return e < 0 ? e : dec_tlvs(r, NULL); /* sc_interface_version */
	case SMPP_SUBMIT_SM:
	case SMPP_DELIVER_SM:
		return dec_sm(r, p);
	case SMPP_SUBMIT_SM_RESP:
		e = dec_resp_str(r, p, p->message_id, sizeof(p->message_id));
		return e < 0 ? e : (r->n ? -EINVAL : 0);
	case SMPP_DELIVER_SM_RESP:
		e = dec_resp_str(r, p, unused, sizeof(unused));
		return e < 0 ? e : (r->n ? -EINVAL : 0);
	case SMPP_GENERIC_NACK:
	case SMPP_UNBIND:
	case SMPP_UNBIND_RESP:
	case SMPP_ENQUIRE_LINK:
	case SMPP_ENQUIRE_LINK_RESP:
		return r->n ? -EINVAL : 0;
	}
	return -ENOTSUP;
}

int smpp_pdu_decode(const uint8_t *data, size_t len, struct smpp_pdu *ret)
{
	if (len > SMPP_PDU_MAX)
		return -E2BIG;
	if (len < HDR_LEN || get32(data) != len)
		return -EINVAL;
	struct smpp_pdu pdu = {0}, *p = &pdu;
	p->command_id = get32(data + 4);
	p->command_status = get32(data + 8);
	p->sequence = get32(data + 12);
	p->message_state = -1;
	struct rd r = {data + HDR_LEN, len - HDR_LEN};
	int e = dec_body(&r, p);
	if (e >= 0)
		*ret = pdu;
	return e < 0 ? e : 0;
}

int smpp_pdu_need(const uint8_t *data, size_t len, size_t *ret_len)
{
	if (len < 4)
		return (int)(HDR_LEN - len);
	uint32_t cl = get32(data);
	if (cl < HDR_LEN || cl > SMPP_PDU_MAX)
		return -E2BIG;
	if (len < cl)
		return (int)(cl - len);
	*ret_len = cl;
	return 0;
}

/* ---- delivery receipt text ---- */

/* The value after key (case-insensitive, at the start or after a space) in s[0..n), up to
   the next space; NULL if absent. Keys are looked for before "text:" only. */
static const char *receipt_field(const char *s, size_t n, const char *key, size_t *ret_len)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i + kl <= n; i++) {
		if (i > 0 && s[i - 1] != ' ')
			continue;
		if (i + 5 <= n && strncasecmp(s + i, "text:", 5) == 0)
			return NULL;
		if (strncasecmp(s + i, key, kl) != 0)
			continue;
		size_t j = i + kl;
		while (j < n && s[j] != ' ' && s[j] != 0)
			j++;
		*ret_len = j - (i + kl);
		return s + i + kl;
	}
	return NULL;
}

int smpp_receipt_parse(const char *text, size_t len, struct smpp_receipt *ret)
{
	struct smpp_receipt rc = {0};
	size_t idl, stl, erl = 0;
	const char *id = receipt_field(text, len, "id:", &idl);
	const char *st = receipt_field(text, len, "stat:", &stl);
	const char *er = receipt_field(text, len, "err:", &erl);
	if (!id || !st || idl == 0 || idl >= sizeof(rc.id) || stl == 0 || stl >= sizeof(rc.stat))
		return -EINVAL;
	memcpy(rc.id, id, idl);
	for (size_t i = 0; i < stl; i++)
		rc.stat[i] = (char)toupper((unsigned char)st[i]);
	if (er && erl < sizeof(rc.err))
		memcpy(rc.err, er, erl);
	*ret = rc;
	return 0;
}
