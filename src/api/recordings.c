/* recordings.c: call recordings (rows written by the call service): list, fetch, download
   the WAV (single byte ranges), delete (the row is kept as deleted, the file removed); and
   api_send_file, the WAV download both recordings and TTS resources use. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

struct rctx {
	struct http_req *req;
	const char *id, *cursor, *call_id;
	int limit;
	json_t *rows;
	char *path;
};

/* "bytes=a-b" | "bytes=a-" | "bytes=-n" against size: 1 with [*off, *off + *len), 0 if the
   header is not one range we understand (send everything), -1 if unsatisfiable. */
static int parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
	if (!h || strncmp(h, "bytes=", 6) || strchr(h, ','))
		return 0;
	const char *p = h + 6, *dash = strchr(p, '-');
	if (!dash)
		return 0;
	char *end;
	if (p == dash) { /* suffix: the last n bytes */
		unsigned long long n = strtoull(dash + 1, &end, 10);
		if (end == dash + 1 || *end)
			return 0;
		if (n == 0 || size == 0)
			return -1;
		*len = n > size ? size : n;
		*off = size - *len;
		return 1;
	}
	unsigned long long a = strtoull(p, &end, 10), b = size ? size - 1 : 0;
	if (end != dash)
		return 0;
	if (dash[1]) {
		b = strtoull(dash + 1, &end, 10);
		if (*end || b < a)
			return 0;
	}
	if (a >= size)
		return -1;
	if (b >= size)
		b = size - 1;
	*off = a;
	*len = b - a + 1;
	return 1;
}

int api_send_file(struct http_req *req, const char *path, const char *type)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		if (fd >= 0)
			close(fd);
		return not_found(req);
	}
	uint64_t size = (uint64_t)sb.st_size, off = 0, len = size;
	char v[96];
	http_header(req, "Accept-Ranges", "bytes");
	int r = parse_range(http_get_header(req, "Range"), size, &off, &len);
	if (r < 0) {
		close(fd);
		snprintf(v, sizeof(v), "bytes */%llu", (unsigned long long)size);
		http_header(req, "Content-Range", v);
		return http_error(req, 416, "range_not_satisfiable", "the range is past the end",
				  NULL);
	}
	if (r > 0) {
		snprintf(v, sizeof(v), "bytes %llu-%llu/%llu", (unsigned long long)off,
			 (unsigned long long)(off + len - 1), (unsigned long long)size);
		http_header(req, "Content-Range", v);
	}
	req->raw_fd = fd;
	req->raw_off = off;
	req->raw_len = len;
	req->raw_type = type;
	req->status = r > 0 ? 206 : 200;
	return 0;
}

json_t *present_recording(json_t *row)
{
	static const char *const omit[] = {"path", NULL};
	json_t *o = present(row, omit);
	char uri[96];
	snprintf(uri, sizeof(uri), "/v1/recordings/%s/audio", json_str(row, "id"));
	json_object_set_new(o, "uri", json_string(uri));
	return o;
}

static int list_fn(struct store_tx *tx, void *arg)
{
	struct rctx *c = arg;
	return store_recording_list(tx, store_tx_tenant(tx), c->call_id, c->cursor, c->limit,
				    &c->rows);
}

int h_recordings_list(struct http_req *req)
{
	struct rctx c = {.req = req, .call_id = http_get_query(req, "call_id")};
	if (http_page_params(req, &c.limit, &c.cursor) < 0)
		return 0;
	if (c.call_id && !id_valid(c.call_id, "CA"))
		return http_error(req, 400, "invalid_parameter", "call_id is a call id (CA...)",
				  "call_id");
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, list_fn, &c);
	if (r < 0)
		return r;
	return http_reply(req, 200, http_page(c.rows, c.limit, present_recording));
}

static int get_fn(struct store_tx *tx, void *arg)
{
	struct rctx *c = arg;
	return store_recording_get(tx, store_tx_tenant(tx), c->id, &c->rows);
}

/* The recording's row, or answers 404 (deleted ones too when audio is wanted). */
static int fetch(struct http_req *req, struct rctx *c, bool audio)
{
	int r = store_tx(req->app->st, req->who.tenant_id, STORE_READ, get_fn, c);
	if (r < 0)
		return r;
	if (audio && strcmp(json_str(c->rows, "status") ?: "", "completed")) {
		json_decref(c->rows);
		c->rows = NULL;
		return not_found(req) ?: 1;
	}
	return 0;
}

int api_recording_audio(struct http_req *req, const char *id)
{
	struct rctx c = {.req = req, .id = id};
	int r = fetch(req, &c, true);
	if (r != 0)
		return r < 0 ? r : 0;
	r = api_send_file(req, json_str(c.rows, "path") ?: "", "audio/wav");
	json_decref(c.rows);
	return r;
}

int h_recordings_get(struct http_req *req)
{
	/* /v1/recordings/RE....wav is the download (Twilio's form) */
	const char *p = req->params[0];
	size_t n = strlen(p);
	if (n == ID_LEN + 4 && !strcmp(p + ID_LEN, ".wav")) {
		char id[ID_LEN + 1];
		snprintf(id, sizeof(id), "%.*s", ID_LEN, p);
		return id_valid(id, "RE") ? api_recording_audio(req, id) : not_found(req);
	}
	struct rctx c = {.req = req, .id = path_id(req, 0, "RE")};
	if (!c.id)
		return not_found(req);
	int r = fetch(req, &c, false);
	if (r < 0)
		return r;
	http_reply(req, 200, present_recording(c.rows));
	json_decref(c.rows);
	return 0;
}

int h_recordings_audio(struct http_req *req)
{
	const char *id = path_id(req, 0, "RE");
	return id ? api_recording_audio(req, id) : not_found(req);
}

static int delete_fn(struct store_tx *tx, void *arg)
{
	struct rctx *c = arg;
	int r = store_recording_delete(tx, store_tx_tenant(tx), c->id, &c->path);
	if (r < 0)
		return r;
	snprintf(c->req->resource_id, sizeof(c->req->resource_id), "%s", c->id);
	return http_reply(c->req, 204, NULL);
}

int h_recordings_delete(struct http_req *req)
{
	struct rctx c = {.req = req, .id = path_id(req, 0, "RE")};
	if (!c.id)
		return not_found(req);
	int r = http_write(req, req->who.tenant_id, delete_fn, &c);
	if (req->status == 204 && c.path && *c.path)
		unlink(c.path); /* after the commit: a rolled-back delete keeps its file */
	mem_free(c.path);
	return r;
}
