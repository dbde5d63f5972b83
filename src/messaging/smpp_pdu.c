/* smpp_pdu.c: placeholder, filled in by its own commit. */
