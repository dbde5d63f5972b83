/* ticker.c: the media threads' schedule arithmetic: absolute due times, lateness, skips. */
#include "voice/voice.h"

void voice_ticker_init(struct voice_ticker *t, uint64_t start_us, uint64_t period_us)
{
	t->start_us = start_us;
	t->period_us = period_us ? period_us : 1;
	t->n = 0;
}

uint64_t voice_ticker_due_us(const struct voice_ticker *t)
{
	return t->start_us + t->n * t->period_us;
}

unsigned voice_ticker_advance(struct voice_ticker *t, uint64_t now_us, unsigned max_run,
			      uint64_t *ret_first, uint64_t *ret_late_us, uint64_t *ret_skipped)
{
	uint64_t due = voice_ticker_due_us(t);
	*ret_late_us = 0;
	*ret_skipped = 0;
	*ret_first = t->n;
	if (now_us < due)
		return 0;
	uint64_t k = (now_us - due) / t->period_us + 1;
	uint64_t run = k < max_run ? k : max_run;
	*ret_late_us = now_us - due;
	*ret_skipped = k - run;
	*ret_first = t->n + (k - run);
	t->n += k;
	return (unsigned)run;
}
