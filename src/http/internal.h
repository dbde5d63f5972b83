/* internal.h: what the files of the http module share with each other. Private. */
#ifndef IRISX_HTTP_INTERNAL_H
#define IRISX_HTTP_INTERNAL_H

#include "http.h"

/* dispatch.c: a pending handler's write is over and its after returned r: the request is
   concluded as http_dispatch concludes one, then handed back with req->resume. */
void http_dispatch_done(struct http_req *req, int r);
/* write.c: http_audit queued; req->audited is set and req->resume called once it is written.
   Returns 0, or a negative errno and nothing was queued. */
int http_audit_async(struct http_req *req, const char *tenant_id, const char *actor_id);

#endif
