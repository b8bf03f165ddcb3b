/* SPDX-License-Identifier: MIT */
/*
 * CRC32C digest throughput (pdu_crc32c, ISA-L underneath): what data
 * digests cost per byte and header digests per PDU. Each case runs for
 * about 0.2 s; prints one line per case.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tcp/pdu.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void bench(const char *what, const uint8_t *buf, size_t len)
{
	volatile uint32_t sink = 0;
	double t0 = now_s(), t;
	unsigned long n = 0;

	do {
		for (int i = 0; i < 64; i++)
			sink ^= pdu_crc32c(buf, len);
		n += 64;
		t = now_s() - t0;
	} while (t < 0.2 && n < 100000000ul);
	printf("crc32c %-12s %8zu B  %9.1f ns/op  %8.2f GB/s\n", what, len,
	       t * 1e9 / n, (double)len * n / t / 1e9);
	(void)sink;
}

int main(void)
{
	static const size_t sizes[] = { 4096, 65536, 1 << 20 };
	uint8_t *buf = malloc(1 << 20);

	if (!buf) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	memset(buf, 0xa5, 1 << 20);
	bench("hdgst-cmd", buf, sizeof(struct pdu_capsule_cmd));
	bench("hdgst-24", buf, sizeof(struct pdu_capsule_resp));
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		bench("ddgst", buf, sizes[i]);
	free(buf);
	return 0;
}
