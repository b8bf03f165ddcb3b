/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the libconfig loader and validator (lib/config):
 * nvmft_config_load_string() on arbitrary text, then everything a daemon
 * reads from a configuration that loaded (runtime options, log level, the
 * connect hint), then nvmft_config_free(). Also nvmft_parse_size() on the
 * first line. Pure parsing: nothing is applied to a target.
 *
 * Input: [0] size of the error buffer (0..255: messages must be cut, never
 * overflow it), then the text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nvmft/config.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nvmft_runtime_opts ro;
	struct nvmft_config *cfg = NULL;
	char hint[256], line[64];
	size_t errlen, n;
	char *text, *err;
	uint64_t v;
	int rc;

	if (size < 1)
		return 0;
	errlen = data[0];
	text = malloc(size);
	/* exactly errlen bytes: ASan catches a write past the end */
	err = malloc(errlen ? errlen : 1);
	if (!text || !err)
		abort();
	memset(err, 'X', errlen ? errlen : 1);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';

	rc = nvmft_config_load_string(text, "fuzz.conf", &cfg, errlen ? err : NULL,
				      errlen);
	if (rc == 0) {
		if (!cfg)
			abort();
		nvmft_config_runtime_opts(cfg, &ro);
		(void)nvmft_config_log_level(cfg);
		n = nvmft_config_connect_hint(cfg, hint, sizeof(hint));
		(void)n;
		(void)nvmft_config_connect_hint(cfg, hint, 1);
		nvmft_config_free(cfg);
	} else {
		if (cfg)
			abort();	/* failure leaves nothing behind */
		if (errlen && !memchr(err, '\0', errlen))
			abort();	/* the message is a string */
	}

	n = strcspn(text, "\n");
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	memcpy(line, text, n);
	line[n] = '\0';
	(void)nvmft_parse_size(line, &v);

	free(err);
	free(text);
	return 0;
}
