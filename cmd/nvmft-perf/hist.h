/* SPDX-License-Identifier: MIT */
/*
 * Log-linear latency histogram: exact below 32 ns, then 32 sub-buckets per
 * power of two (about 3 % resolution) up to 2^41 ns. Fixed size, no
 * allocation; one per thread, merged at the end.
 */
#ifndef NVMFT_PERF_HIST_H
#define NVMFT_PERF_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS	5
#define HIST_SUB	(1u << HIST_SUB_BITS)
#define HIST_MAX_MSB	40
#define HIST_BUCKETS	((HIST_MAX_MSB - HIST_SUB_BITS + 2) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t bucket[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_merge(struct hist *dst, const struct hist *src);
/* Value at quantile @q (0..1): the middle of the bucket holding it. */
uint64_t hist_quantile(const struct hist *h, double q);
/* Middle of bucket @i (for printing a distribution). */
uint64_t hist_bucket_mid(unsigned int i);

static inline unsigned int hist_index(uint64_t v)
{
	unsigned int msb, shift;

	if (v < HIST_SUB)
		return (unsigned int)v;
	msb = 63 - (unsigned int)__builtin_clzll(v);
	if (msb > HIST_MAX_MSB) {
		msb = HIST_MAX_MSB;
		v = (2ull << HIST_MAX_MSB) - 1;
	}
	shift = msb - HIST_SUB_BITS;
	return (shift + 1) * HIST_SUB + (unsigned int)((v >> shift) & (HIST_SUB - 1));
}

static inline void hist_add(struct hist *h, uint64_t v)
{
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->bucket[hist_index(v)]++;
}

#endif
