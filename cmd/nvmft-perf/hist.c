/* SPDX-License-Identifier: MIT */
#include <string.h>
#include "hist.h"

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	for (unsigned int i = 0; i < HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
}

/* Lower bound and width of bucket @i. */
static void bucket_range(unsigned int i, uint64_t *lo, uint64_t *width)
{
	if (i < HIST_SUB) {
		*lo = i;
		*width = 1;
		return;
	}
	unsigned int shift = i / HIST_SUB - 1;

	*lo = (uint64_t)(HIST_SUB + i % HIST_SUB) << shift;
	*width = 1ull << shift;
}

uint64_t hist_bucket_mid(unsigned int i)
{
	uint64_t lo, width;

	bucket_range(i, &lo, &width);
	return lo + width / 2;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t want, seen = 0, lo, width;

	if (!h->count)
		return 0;
	if (q >= 1.0)
		return h->max;
	want = (uint64_t)(q * (double)h->count);
	if ((double)want < q * (double)h->count)
		want++;
	if (want < 1)
		want = 1;
	for (unsigned int i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= want) {
			bucket_range(i, &lo, &width);
			lo += width / 2;
			/* never report outside what was seen */
			if (lo > h->max)
				lo = h->max;
			if (lo < h->min)
				lo = h->min;
			return lo;
		}
	}
	return h->max;
}
