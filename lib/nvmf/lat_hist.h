/* SPDX-License-Identifier: MIT */
/*
 * Latency histogram of a poll group: log-linear buckets of microseconds,
 * NVMF_LAT_SUB per power of two (relative width 1/NVMF_LAT_SUB, so a
 * percentile read from it is within 12.5 % of the true value), exact
 * below NVMF_LAT_SUB us. Fixed size, no allocation: adding a sample is a
 * count-leading-zeros, a shift and two increments, done on the poll
 * group's reactor when a request completes (request.c); readers take it
 * on that reactor too (nvmf_info_poll_group), so nothing is atomic.
 */
#ifndef NVMFT_LIB_NVMF_LAT_HIST_H
#define NVMFT_LIB_NVMF_LAT_HIST_H

#include <stdint.h>

#define NVMF_LAT_SUB_BITS	3
#define NVMF_LAT_SUB		(1u << NVMF_LAT_SUB_BITS)
/* Samples of 2^NVMF_LAT_MAX_BITS us (71 minutes) or more land in the
 * last bucket, which is therefore open-ended. */
#define NVMF_LAT_MAX_BITS	32
#define NVMF_LAT_BUCKETS	((NVMF_LAT_MAX_BITS - NVMF_LAT_SUB_BITS + 1) * NVMF_LAT_SUB)

struct nvmf_lat_hist {
	uint64_t sum_us;			/* of every sample: the mean */
	uint64_t buckets[NVMF_LAT_BUCKETS];
};

static inline unsigned int nvmf_lat_bucket(uint64_t us)
{
	unsigned int e;

	if (us < NVMF_LAT_SUB)
		return (unsigned int)us;
	e = 63u - (unsigned int)__builtin_clzll(us);	/* us >= 1 here */
	if (e >= NVMF_LAT_MAX_BITS)
		return NVMF_LAT_BUCKETS - 1;
	return (e - NVMF_LAT_SUB_BITS + 1) * NVMF_LAT_SUB +
	       (unsigned int)((us >> (e - NVMF_LAT_SUB_BITS)) & (NVMF_LAT_SUB - 1));
}

static inline void nvmf_lat_hist_add(struct nvmf_lat_hist *h, uint64_t us)
{
	h->buckets[nvmf_lat_bucket(us)]++;
	h->sum_us += us;
}

/* Bucket @idx holds samples in [*lo, *hi) (the last one: [*lo, inf)). */
static inline void nvmf_lat_bucket_range(unsigned int idx, uint64_t *lo, uint64_t *hi)
{
	unsigned int g = idx / NVMF_LAT_SUB, sub = idx % NVMF_LAT_SUB;

	if (g == 0) {
		*lo = idx;
		*hi = (uint64_t)idx + 1;
		return;
	}
	*lo = (uint64_t)(NVMF_LAT_SUB + sub) << (g - 1);
	*hi = *lo + (1ull << (g - 1));
}

#endif
