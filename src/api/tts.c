/* tts.c: text-to-speech resources: POST renders (or finds) the tenant's WAV for a text,
   voice and language; GET answers its metadata or the audio (byte ranges); the voices list.
   No table: the files and their JSON sidecars under data_dir/tts are the resource. */
#include "calls/calls.h"
#include "internal.h"

static json_t *present_tts(json_t *meta)
{
	json_t *o = json_deep_copy(meta);
	char uri[96];
	snprintf(uri, sizeof(uri), "/v1/tts/%s/audio", json_str(meta, "id"));
	json_object_set_new(o, "uri", json_string(uri));
	return o;
}

int h_tts_create(struct http_req *req)
{
	static const struct json_field f[] = {{"text", JF_STRING, true, 4000},
					      {"voice", JF_STRING, false, 32},
					      {"language", JF_STRING, false, 16},
					      {0}};
	if (http_check_body(req, f) < 0)
		return 0;
	const char *text = json_str(req->json, "text");
	if (!*text)
		return http_error(req, 400, "invalid_field", "text is 1 to 4000 characters",
				  "text");
	json_t *meta;
	int r =
	    calls_tts_render(req->app->cfg->data_dir, req->who.tenant_id, text,
			     json_str(req->json, "voice"), json_str(req->json, "language"), &meta);
	if (r == -ENOTSUP)
		return http_error(req, 400, "invalid_field",
				  "a language of GET /v1/tts/voices (en, de, fr, ...)", "language");
	if (r == -EBADMSG)
		return http_error(req, 400, "invalid_field",
				  "a voice of that language (GET /v1/tts/voices)", "voice");
	if (r == -EINVAL)
		return http_error(req, 400, "invalid_field", "text is 1 to 4000 characters",
				  "text");
	if (r < 0)
		return r;
	snprintf(req->resource_id, sizeof(req->resource_id), "%s", json_str(meta, "id"));
	http_reply(req, 201, present_tts(meta));
	json_decref(meta);
	http_audit(req, req->who.tenant_id, NULL); /* no transaction of its own to share */
	return 0;
}

/* The WAV path of the tenant's id (out), or answers 404 (returns 1). */
static int tts_file(struct http_req *req, char *out, size_t cap)
{
	const char *id = path_id(req, 0, "TT");
	if (!id || calls_tts_path(req->app->cfg->data_dir, req->who.tenant_id, id, out, cap) < 0)
		return not_found(req) ?: 1;
	return 0;
}

int h_tts_get(struct http_req *req)
{
	char path[4096], meta_path[4096];
	if (tts_file(req, path, sizeof(path)))
		return 0;
	snprintf(meta_path, sizeof(meta_path), "%.*s.json", (int)(strlen(path) - 4), path);
	json_t *meta = json_load_file(meta_path, 0, NULL);
	if (!meta)
		return not_found(req);
	http_reply(req, 200, present_tts(meta));
	json_decref(meta);
	return 0;
}

int h_tts_audio(struct http_req *req)
{
	char path[4096];
	if (tts_file(req, path, sizeof(path)))
		return 0;
	return api_send_file(req, path, "audio/wav");
}

int h_tts_voices(struct http_req *req)
{
	return http_reply(req, 200, json_pack("{s:o}", "data", calls_tts_voices()));
}
