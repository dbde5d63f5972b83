/* smpp.h: SMPP 3.4 ESME client (private to src/messaging): PDU codec with size caps, one
   bind per client (transceiver, or transmitter / receiver for SMSCs without transceivers)
   on a thread of its own, window and throughput limits, enquire_link, automatic rebind
   with backoff, resend of the unacknowledged window, and delivery-receipt parsing. */
#ifndef IRISX_MESSAGING_SMPP_H
#define IRISX_MESSAGING_SMPP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- PDUs ---- */
#define SMPP_PDU_MAX 4096 /* command_length cap: larger PDUs are refused (generic_nack) */
#define SMPP_SM_MAX 254	  /* short_message bytes */

enum smpp_cmd {
	SMPP_GENERIC_NACK = 0x80000000,
	SMPP_BIND_RECEIVER = 0x00000001,
	SMPP_BIND_RECEIVER_RESP = 0x80000001,
	SMPP_BIND_TRANSMITTER = 0x00000002,
	SMPP_BIND_TRANSMITTER_RESP = 0x80000002,
	SMPP_BIND_TRANSCEIVER = 0x00000009,
	SMPP_BIND_TRANSCEIVER_RESP = 0x80000009,
	SMPP_SUBMIT_SM = 0x00000004,
	SMPP_SUBMIT_SM_RESP = 0x80000004,
	SMPP_DELIVER_SM = 0x00000005,
	SMPP_DELIVER_SM_RESP = 0x80000005,
	SMPP_UNBIND = 0x00000006,
	SMPP_UNBIND_RESP = 0x80000006,
	SMPP_ENQUIRE_LINK = 0x00000015,
	SMPP_ENQUIRE_LINK_RESP = 0x80000015,
};

/* command_status values the client reacts to */
#define SMPP_ESME_ROK 0x00000000
#define SMPP_ESME_RMSGQFUL 0x00000014	/* back off and resend */
#define SMPP_ESME_RTHROTTLED 0x00000058 /* back off and resend */
#define SMPP_ESME_RINVCMDLEN 0x00000002
#define SMPP_ESME_RINVCMDID 0x00000003
#define SMPP_ESME_RSYSERR 0x00000008

/* A decoded PDU: the header plus the fields of the commands IRISX uses (strings are
   NUL-terminated copies capped at their SMPP maximum lengths). */
struct smpp_pdu {
	uint32_t command_id, command_status, sequence;
	/* bind */
	char system_id[16], password[9], system_type[13];
	uint8_t interface_version;
	/* submit_sm / deliver_sm */
	char service_type[6], source_addr[21], destination_addr[21];
	uint8_t source_addr_ton, source_addr_npi, dest_addr_ton, dest_addr_npi;
	uint8_t esm_class, protocol_id, priority_flag, registered_delivery, data_coding;
	char schedule_delivery_time[17], validity_period[17];
	uint8_t sm_length;
	uint8_t short_message[SMPP_SM_MAX];
	/* submit_sm_resp */
	char message_id[65];
	/* TLVs of interest: receipted_message_id (0x001E), message_state (0x0427),
	   message_payload (0x0424, capped at SMPP_SM_MAX) */
	char receipted_message_id[65];
	int message_state; /* -1 if absent */
};

/* Encodes p into out (appends). -EINVAL for a field too long or an unknown command. */
int smpp_pdu_encode(const struct smpp_pdu *p, struct buf *out);
/* Decodes one complete PDU of len bytes (len == its command_length). -EINVAL malformed
   (truncated field, missing NUL, length mismatch), -E2BIG over SMPP_PDU_MAX, -ENOTSUP an
   unknown command_id (answer generic_nack with ESME_RINVCMDID). Unknown TLVs are skipped. */
int smpp_pdu_decode(const uint8_t *data, size_t len, struct smpp_pdu *ret);
/* Bytes needed before a PDU can be decoded: 0 if data holds a whole PDU (its length in
 *ret_len), > 0 if more bytes are needed, -E2BIG if command_length is out of range. */
int smpp_pdu_need(const uint8_t *data, size_t len, size_t *ret_len);

/* A delivery receipt in deliver_sm text ("id:X sub:001 dlvrd:001 submit date:...
   done date:... stat:DELIVRD err:000 text:..."), or from the TLVs. */
struct smpp_receipt {
	char id[65];
	char stat[8]; /* DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD, ENROUTE */
	char err[8];
};
/* 0 if the text is a receipt; -EINVAL otherwise. */
int smpp_receipt_parse(const char *text, size_t len, struct smpp_receipt *ret);

/* ---- the client ---- */
struct smpp_client;

/* How the client binds. An SMSC that takes no bind_transceiver (SMPP 3.3, Kannel's
   drive_smpp) needs two clients: a transmitter for submits and a receiver for deliver_sm. */
enum smpp_bind_type {
	SMPP_TRANSCEIVER = 0, /* submit_sm and deliver_sm on one bind (the default) */
	SMPP_TRANSMITTER,     /* submit_sm only (a deliver_sm that still comes is handled) */
	SMPP_RECEIVER,	      /* deliver_sm only: smpp_submit returns -ENOTSUP */
};

struct smpp_config {
	const char *host;
	int port;
	const char *system_id, *password, *system_type;
	int window;		 /* submit_sm awaiting their resp at once (default 10) */
	int tps;		 /* submit_sm per second on this bind (0: unlimited) */
	int enquire_link_s;	 /* idle keep-alive (default 30); no answer within 10 s (or the
				    response timeout if shorter): rebind */
	int response_timeout_ms; /* a submit_sm without resp by then is resent (default 10000) */
	int rebind_min_ms, rebind_max_ms; /* backoff between bind attempts (500, 30000) */
	int queue_max; /* submits waiting for the window (default 10000); more: -EAGAIN */
	enum smpp_bind_type bind_type;
};

/* What comes back for a submit (exactly once per accepted smpp_submit call). */
struct smpp_submit_result {
	void *arg;		/* the submit's arg */
	uint32_t status;	/* command_status of submit_sm_resp; SMPP_ESME_RSYSERR if the
				   client gave up (shutdown) */
	const char *message_id; /* the SMSC's id on success */
};

/* An incoming deliver_sm (mobile-originated message or receipt). */
struct smpp_deliver {
	const struct smpp_pdu *pdu;
	bool is_receipt;	     /* esm_class receipt bits set (0x04 or 0x08) */
	struct smpp_receipt receipt; /* when is_receipt and it parsed (from the text or the
					TLVs, the TLVs winning); receipt.id is "" otherwise */
};

struct smpp_callbacks {
	void (*submitted)(const struct smpp_submit_result *r, void *arg);
	/* Returns the command_status to answer with (ESME_ROK to acknowledge). */
	uint32_t (*delivered)(const struct smpp_deliver *d, void *arg);
	void (*bound)(bool up, const char *why, void *arg); /* bind state changes */
	void *arg;
};

struct smpp_submit {
	const char *source_addr, *destination_addr;
	uint8_t source_addr_ton, source_addr_npi, dest_addr_ton, dest_addr_npi;
	uint8_t esm_class;	     /* 0x40 when short_message starts with a UDH */
	uint8_t data_coding;	     /* 0 GSM 7-bit default alphabet (unpacked), 8 UCS-2 */
	uint8_t registered_delivery; /* 1: ask for a receipt */
	const char *validity_period; /* SMPP relative "000000010000000R" or NULL */
	const uint8_t *short_message;
	size_t sm_length;
	void *arg; /* handed back in smpp_submit_result */
};

/* Starts the client thread: it connects, binds (cfg->bind_type) and keeps the bind up. */
int smpp_client_new(const struct smpp_config *cfg, const struct smpp_callbacks *cb,
		    struct smpp_client **ret);
/* Queues a submit (copied). 0, -EAGAIN (queue full), -EINVAL (too long), -ENOTSUP (a
   receiver bind). The result comes
   through cb->submitted on the client thread; throttling (0x58, 0x14) is retried inside
   with backoff and never reported; a lost bind resends the unacknowledged window after
   the rebind (the SMSC may then see a message twice). */
int smpp_submit(struct smpp_client *c, const struct smpp_submit *s);
bool smpp_client_bound(struct smpp_client *c);
struct smpp_stats {
	/* submitted: submit_sm sent (resends included); generic_nacks: sent by the client
	   for PDUs it could not decode (one received for a submit counts as its resp) */
	uint64_t submitted, resp_ok, resp_error, throttled, resent, rebinds, delivered,
	    generic_nacks;
	int in_window, queued;
};
void smpp_client_stats(struct smpp_client *c, struct smpp_stats *ret);
/* Unbinds and stops; queued and unacknowledged submits are reported with
   SMPP_ESME_RSYSERR. NULL-safe. */
void smpp_client_free(struct smpp_client *c);

#endif
