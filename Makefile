# coder-cfg: one plain GNU Makefile.
#
#   make              build ./coder-cfg
#   make run          start a server on 127.0.0.1:3000 (LMDB store)
#   make check        build and run every test (PostgreSQL included)
#   make check SAN=1  the same under AddressSanitizer and UBSan
#   make lint         80 columns, banned calls, no TODO marks
#   make bench        benchmarks, as ratios against the ceiling server
#   make install      install the binary under $(DESTDIR)$(PREFIX)

# Compiler.
CC ?= cc
# Optimisation and debug information.
OPT ?= -O2 -g
# 1 turns warnings into errors (development default).
WERROR ?= 1
# 1 builds everything under ASan and UBSan into build/san.
SAN ?= 0
# 1 prints full commands instead of "CC core/x.o".
V ?= 0
# Installation root and staging directory.
PREFIX ?= /usr/local
DESTDIR ?=
# The Coder release we present (buildinfo, X-Coder-Build-Version).
CODER_VERSION ?= v2.29.0
# Where the server keeps its LMDB store for `make run`.
RUN_ARGS ?=

PKGS := jansson libpcre2-8 libsodium lmdb msgpack uuid yaml-0.1
# Loaded with dlopen on first use (backends/pq_lazy.c, api/curl_lazy.c,
# api/mhd_lazy.c, api/gnutls_lazy.c): the build wants their headers only;
# tests that call them link them.
LAZY_PKGS := gnutls libcurl libmicrohttpd libpq
TEST_PKGS := check

# Install missing Debian packages once, before pkg-config is asked.
DEPS_OK := $(shell pkg-config --exists $(PKGS) $(LAZY_PKGS) $(TEST_PKGS) \
	&& echo yes)
ifneq ($(DEPS_OK),yes)
$(info installing missing packages with tools/deps.sh)
DEPS_RC := $(shell tools/deps.sh >&2; echo $$?)
ifneq ($(DEPS_RC),0)
$(error tools/deps.sh failed: install the packages it names and retry)
endif
endif

COMMIT := $(shell git rev-parse HEAD 2>/dev/null)
SHORT := $(shell git rev-parse --short=7 HEAD 2>/dev/null)

ifeq ($(SAN),1)
B := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
BIN := $(B)/coder-cfg
else
B := build/rel
SANFLAGS :=
BIN := coder-cfg
endif

WARN := -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes \
	-Wwrite-strings -Wvla -Wshadow -Wno-format-truncation
ifeq ($(WERROR),1)
WARN += -Werror
endif

CPPFLAGS += -D_GNU_SOURCE -I. \
	$(shell pkg-config --cflags $(PKGS) $(LAZY_PKGS))
CFLAGS += -std=c11 $(OPT) $(WARN) $(SANFLAGS) -pthread -MMD -MP
LDFLAGS += $(SANFLAGS) -pthread -Wl,--as-needed
LIBS := $(shell pkg-config --libs $(PKGS)) -lm
TEST_LIBS := $(shell pkg-config --libs libcurl libmicrohttpd libpq \
	$(TEST_PKGS))

ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2);
endif

# Sources, one per line, sorted.
BASE_SRCS := \
	core/buf.c \
	core/err.c \
	core/jsonx.c \
	core/lazylib.c \
	core/util.c

OPT_SRCS := \
	core/deployment_config.c \
	core/deployment_options.c \
	core/opt.c \
	core/opt_yaml.c \
	core/optval.c \
	core/optval_csv.c \
	core/optval_duration.c \
	core/optval_scalar.c \
	core/optval_struct.c \
	core/optval_url.c \
	core/optval_yaml.c \
	core/optval_yaml_resolve.c \
	core/version.c

STORE_SRCS := \
	backends/lmdb.c \
	backends/postgres.c \
	backends/postgres_cluster.c \
	backends/postgres_conn.c \
	backends/postgres_schema.c \
	backends/pq_lazy.c \
	backends/store.c \
	core/engine.c \
	core/keycache.c

# Parts that need both the option engine and the store.
DEPLOY_SRCS := \
	core/snapshot.c

API_SRCS := \
	api/auth.c \
	api/blob.c \
	api/curl_lazy.c \
	api/gnutls_lazy.c \
	api/gojson.c \
	api/handlers.c \
	api/http.c \
	api/log.c \
	api/metrics.c \
	api/mhd_lazy.c \
	api/middleware.c \
	api/netaddr.c \
	api/ratelimit.c \
	api/router.c \
	api/semver.c \
	api/server.c \
	api/sleeper.c \
	api/stats.c \
	api/tls.c \
	api/updatecheck.c \
	api/values.c

TOOL_SRCS := \
	tools/cmd_admin.c \
	tools/cmd_dump.c \
	tools/cmd_dump_store.c \
	tools/cmd_server.c \
	tools/coder-cfg.c \
	tools/sigwatch.c

TESTS := \
	check_api \
	check_api_parts \
	check_base \
	check_cluster \
	check_config \
	check_dump \
	check_dump_store \
	check_engine \
	check_opt \
	check_optval \
	check_options_table \
	check_postgres \
	check_server \
	check_store

objs = $(patsubst %.c,$(B)/%.o,$(1))
BASE_OBJS := $(call objs,$(BASE_SRCS))
OPT_OBJS := $(call objs,$(OPT_SRCS))
STORE_OBJS := $(call objs,$(STORE_SRCS))
DEPLOY_OBJS := $(call objs,$(DEPLOY_SRCS))
API_OBJS := $(call objs,$(API_SRCS))
TOOL_OBJS := $(call objs,$(TOOL_SRCS))
ALL_OBJS := $(BASE_OBJS) $(OPT_OBJS) $(STORE_OBJS) $(DEPLOY_OBJS) \
	$(API_OBJS) $(TOOL_OBJS)
TEST_BINS := $(addprefix $(B)/tests/,$(TESTS))
TEST_UTIL := $(B)/tests/testutil.o
TEST_PG := $(B)/tests/pgutil.o
PG_OBJS := $(call objs,$(filter backends/postgres% backends/pq_lazy.c, \
	$(STORE_SRCS)))

.PHONY: all run check check-build lint bench install clean
all: $(BIN)

$(BIN): $(ALL_OBJS)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# Only core/version.c sees the version, so a new commit rebuilds one file:
# the stamp is rewritten only when the version text changes.
VERSION_TEXT := $(CODER_VERSION)$(if $(SHORT),+$(SHORT)) $(COMMIT)
$(B)/version.stamp: FORCE
	@mkdir -p $(dir $@)
	@if [ "$$(cat $@ 2>/dev/null)" != "$(VERSION_TEXT)" ]; then \
		echo "$(VERSION_TEXT)" >$@; fi
.PHONY: FORCE
FORCE:

$(B)/core/version.o: $(B)/version.stamp
$(B)/core/version.o: CPPFLAGS += \
	-DCODER_CFG_VERSION='"$(CODER_VERSION)$(if $(SHORT),+$(SHORT))"' \
	-DCODER_CFG_COMMIT='"$(COMMIT)"'

# Each test links only the layers it exercises.
$(B)/tests/check_base: $(B)/tests/check_base.o $(BASE_OBJS)
$(B)/tests/check_optval: $(B)/tests/check_optval.o $(OPT_OBJS) \
	$(BASE_OBJS)
$(B)/tests/check_opt: $(B)/tests/check_opt.o $(OPT_OBJS) $(BASE_OBJS) \
	$(TEST_UTIL)
$(B)/tests/check_config: $(B)/tests/check_config.o $(OPT_OBJS) \
	$(BASE_OBJS) $(TEST_UTIL)
$(B)/tests/check_options_table: $(B)/tests/check_options_table.o \
	$(B)/core/deployment_options.o $(B)/core/version.o $(BASE_OBJS)
$(B)/tests/check_store: $(B)/tests/check_store.o $(STORE_OBJS) \
	$(BASE_OBJS) $(TEST_UTIL) $(TEST_PG)
$(B)/tests/check_postgres: $(B)/tests/check_postgres.o $(PG_OBJS) \
	$(BASE_OBJS) $(TEST_UTIL) $(TEST_PG)
$(B)/tests/check_engine: $(B)/tests/check_engine.o $(STORE_OBJS) \
	$(BASE_OBJS) $(TEST_UTIL)
$(B)/tests/check_dump: $(B)/tests/check_dump.o $(BASE_OBJS) $(TEST_UTIL)
API_PART_OBJS := $(call objs,api/auth.c api/gojson.c api/metrics.c \
	api/mhd_lazy.c api/netaddr.c api/ratelimit.c api/router.c \
	api/semver.c api/values.c)
$(B)/tests/check_api_parts: $(B)/tests/check_api_parts.o \
	$(API_PART_OBJS) $(BASE_OBJS)
$(B)/tests/check_api: $(B)/tests/check_api.o $(STORE_OBJS) $(BASE_OBJS) \
	$(TEST_UTIL)
$(B)/tests/check_server: $(B)/tests/check_server.o $(STORE_OBJS) \
	$(BASE_OBJS) $(TEST_UTIL)
$(B)/tests/check_cluster: $(B)/tests/check_cluster.o $(STORE_OBJS) \
	$(BASE_OBJS) $(TEST_UTIL) $(TEST_PG)
$(B)/tests/check_dump_store: $(B)/tests/check_dump_store.o \
	$(DEPLOY_OBJS) $(STORE_OBJS) $(OPT_OBJS) $(BASE_OBJS) $(TEST_UTIL) \
	$(TEST_PG)

# Benchmark programs link like the suites, so their object lists stay
# current; the bench/*.sh scripts build them through make.
BENCH_BINS := $(B)/bench/pg_verify $(B)/bench/store_bench
$(B)/bench/pg_verify: $(B)/bench/pg_verify.o $(STORE_OBJS) $(BASE_OBJS)
$(B)/bench/store_bench: $(B)/bench/store_bench.o $(STORE_OBJS) \
	$(BASE_OBJS)

$(TEST_BINS) $(BENCH_BINS):
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(TEST_LIBS)

check-build: $(BIN) $(TEST_BINS)

check: check-build
	$(Q)CODER_CFG_BIN=$(abspath $(BIN)) SAN=$(SAN) \
		tests/run.sh $(TEST_BINS)

run: $(BIN)
	./$(BIN) server $(RUN_ARGS)

lint:
	$(Q)tools/lint.sh

bench: $(BIN)
	$(Q)CODER_CFG_BIN=$(abspath $(BIN)) bench/run.sh

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/coder-cfg

clean:
	rm -rf build coder-cfg

-include $(ALL_OBJS:.o=.d) $(TEST_BINS:=.d) $(TEST_UTIL:.o=.d) \
	$(BENCH_BINS:=.d) \
	$(TEST_PG:.o=.d)
