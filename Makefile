# nvmft — userspace NVMe-over-Fabrics TCP target.
#
#   make            build libnvmft (static + shared), libnvmft-host, tools, tests
#   make run        install deps if missing, build, start nvmf-tgtd (embedded default)
#   make check      install deps if missing, build, run every test
#   make bench      benchmarks (prints figures)
#   make install    PREFIX=/usr/local DESTDIR=
#   ASAN=1 / UBSAN=1 build into a separate tree with the sanitizers on.

VERSION      := 0.1.0
SOVERSION    := 0
PREFIX       ?= /usr/local
DESTDIR      ?=
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
BINDIR       ?= $(PREFIX)/bin
SBINDIR      ?= $(PREFIX)/sbin
MANDIR       ?= $(PREFIX)/share/man
SYSCONFDIR   ?= /etc
SYSTEMDUNITDIR ?= $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)

CC           ?= cc
PKG_CONFIG   ?= pkg-config
PKGS         := liburing libnvme libconfig libisal json-c libnbd

SAN_FLAGS :=
BUILD_BASE ?= build
BUILD := $(BUILD_BASE)
ifeq ($(ASAN),1)
SAN_FLAGS += -fsanitize=address -fno-omit-frame-pointer
BUILD := $(BUILD)-asan
endif
ifeq ($(UBSAN),1)
SAN_FLAGS += -fsanitize=undefined -fno-sanitize-recover=all
BUILD := $(BUILD)-ubsan
endif

# Recursive (=) so pkg-config runs after `deps` has installed what is missing.
PKG_CFLAGS    = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS      = $(shell $(PKG_CONFIG) --libs liburing libconfig libisal json-c libnbd 2>/dev/null)
CMOCKA_LIBS   = $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wstrict-prototypes \
            -Wmissing-prototypes -Wformat=2
CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(SAN_FLAGS) -fPIC -D_GNU_SOURCE \
             -DNVMFT_VERSION=\"$(VERSION)\" -Iinclude -Ilib $(PKG_CFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(SAN_FLAGS) -pthread

LIB_SRCS   := $(sort $(shell find lib -name '*.c' -not -path 'lib/host/*'))
HOST_SRCS  := $(sort $(wildcard lib/host/*.c))
LIB_OBJS   := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
HOST_OBJS  := $(HOST_SRCS:%.c=$(BUILD)/obj/%.o)

LIBA       := $(BUILD)/lib/libnvmft.a
LIBSO      := $(BUILD)/lib/libnvmft.so.$(SOVERSION)
HOSTA      := $(BUILD)/lib/libnvmft-host.a

CMDS       := $(notdir $(wildcard cmd/*))
CMD_BINS   := $(foreach c,$(CMDS),$(BUILD)/bin/$(c))
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
INTEG_SRCS := $(wildcard tests/integration/test_*.c)
INTEG_BINS := $(INTEG_SRCS:tests/integration/%.c=$(BUILD)/tests/integration/%)
BENCH_SRCS := $(wildcard tests/bench/bench_*.c)
BENCH_BINS := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/tests/bench/%)
EX_SRCS    := $(wildcard examples/*.c)
EX_BINS    := $(EX_SRCS:examples/%.c=$(BUILD)/examples/%)
TEST_SUPPORT := $(wildcard tests/support/*.c)
TEST_HDRS    := $(wildcard tests/*/*.h)

DEPS_STAMP := $(BUILD)/.deps-ok
NPROC      := $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps run check unit integration interop fuzz soak bench install uninstall clean lib tools tests
.DEFAULT_GOAL := all

all: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory -j$(NPROC) lib tools tests

deps $(DEPS_STAMP): scripts/deps.sh
	@scripts/deps.sh
	@mkdir -p $(BUILD) && touch $(DEPS_STAMP)

lib: $(LIBA) $(LIBSO) $(HOSTA) $(BUILD)/pkgconfig/nvmft.pc $(BUILD)/pkgconfig/nvmft-host.pc
tools: $(CMD_BINS) $(EX_BINS)
tests: $(UNIT_BINS) $(INTEG_BINS) $(BENCH_BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIBA): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBSO): $(LIB_OBJS) lib/libnvmft.map
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,libnvmft.so.$(SOVERSION) -Wl,--version-script=lib/libnvmft.map \
		-Wl,--no-undefined $(ALL_LDFLAGS) -o $@ $(LIB_OBJS) $(PKG_LIBS)
	ln -sf libnvmft.so.$(SOVERSION) $(BUILD)/lib/libnvmft.so

$(HOSTA): $(HOST_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/pkgconfig/%.pc: pkgconfig/%.pc.in Makefile
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' $< > $@

# Tools and tests link the static archives: tests reach library-internal names.
$(BUILD)/bin/%: $(wildcard cmd/*/*.c cmd/*/*.h) $(LIBA) $(HOSTA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(wildcard cmd/$*/*.c) $(HOSTA) $(LIBA) $(ALL_LDFLAGS) $(PKG_LIBS) -lm

$(BUILD)/examples/%: examples/%.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBA) $(ALL_LDFLAGS) $(PKG_LIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(TEST_SUPPORT) $(TEST_HDRS) $(LIBA) $(HOSTA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -o $@ $< $(TEST_SUPPORT) $(HOSTA) $(LIBA) $(ALL_LDFLAGS) \
		$(PKG_LIBS) $(CMOCKA_LIBS) -lm

$(BUILD)/tests/integration/%: tests/integration/%.c $(TEST_SUPPORT) $(TEST_HDRS) $(LIBA) $(HOSTA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -o $@ $< $(TEST_SUPPORT) $(HOSTA) $(LIBA) $(ALL_LDFLAGS) \
		$(PKG_LIBS) $(CMOCKA_LIBS) -lm

$(BUILD)/tests/bench/%: tests/bench/%.c $(TEST_SUPPORT) $(TEST_HDRS) $(LIBA) $(HOSTA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -o $@ $< $(TEST_SUPPORT) $(HOSTA) $(LIBA) $(ALL_LDFLAGS) \
		$(PKG_LIBS) $(CMOCKA_LIBS) -lm

run: all
	$(BUILD)/bin/nvmf-tgtd $(ARGS)

unit: all
	@tests/run.sh $(BUILD) unit

integration: all
	@tests/run.sh $(BUILD) integration

interop: all
	@tests/run.sh $(BUILD) interop

check: all
	@tests/run.sh $(BUILD) unit integration examples interop

# libFuzzer targets under ASan+UBSan for FUZZ_SECONDS each (tests/fuzz/run.sh)
FUZZ_SECONDS ?= 60
fuzz:
	@command -v clang >/dev/null && dpkg -s libclang-rt-14-dev >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev; }
	@tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

# Bounded soak: verified I/O, churn, live changes, faults; RSS and fds flat
DURATION ?= 600
soak: all
	@python3 tests/soak/soak.py $(BUILD) $(DURATION)

bench: all
	@tests/bench/run.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/nvmft \
		$(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8
	install -m 644 $(LIBA) $(HOSTA) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIBSO) $(DESTDIR)$(LIBDIR)/
	ln -sf libnvmft.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libnvmft.so
	install -m 644 include/nvmft/*.h $(DESTDIR)$(INCLUDEDIR)/nvmft/
	for pc in nvmft nvmft-host; do \
		sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		    -e 's|@VERSION@|$(VERSION)|' pkgconfig/$$pc.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/$$pc.pc; done
	for c in $(CMDS); do \
		case $$c in nvmf-tgtd) d=$(SBINDIR);; *) d=$(BINDIR);; esac; \
		install -m 755 $(BUILD)/bin/$$c $(DESTDIR)$$d/; done
	for m in $(wildcard man/*.[18]); do \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/; done
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSCONFDIR)/nvmft
	sed -e 's|@SBINDIR@|$(SBINDIR)|' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|' \
	    packaging/systemd/nvmf-tgtd.service.in > $(DESTDIR)$(SYSTEMDUNITDIR)/nvmf-tgtd.service
	[ -e $(DESTDIR)$(SYSCONFDIR)/nvmft/nvmf-tgtd.conf ] || \
		install -m 644 examples/nvmf-tgtd.conf $(DESTDIR)$(SYSCONFDIR)/nvmft/nvmf-tgtd.conf

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libnvmft.a $(DESTDIR)$(LIBDIR)/libnvmft-host.a \
	      $(DESTDIR)$(LIBDIR)/libnvmft.so* $(DESTDIR)$(LIBDIR)/pkgconfig/nvmft.pc \
	      $(DESTDIR)$(LIBDIR)/pkgconfig/nvmft-host.pc
	rm -rf $(DESTDIR)$(INCLUDEDIR)/nvmft
	for c in $(CMDS); do rm -f $(DESTDIR)$(BINDIR)/$$c $(DESTDIR)$(SBINDIR)/$$c; done
	for m in $(notdir $(wildcard man/*.[18])); do \
		rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$$m; done
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/nvmf-tgtd.service

clean:
	rm -rf build build-asan build-ubsan build-asan-ubsan build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
