/* sms_http.c: placeholder, filled in by its own commit. */
