# ratelog build.  GNU make, no configure step.
#
#   make                  build/ratelog
#   make test             every tier: unit + integration (plain and under
#                         ASan/UBSan), then end to end against a real dockerd
#   make unit integration valgrind load e2e
#   make SAN=address,undefined B=build-asan unit
#   make plugin PLUGIN=name:tag   managed plugin from build/ratelog
#   make install          deps, build, create and enable the plugin locally
#   make fuzz             every libFuzzer target for FUZZ_SECONDS each
#   make deps             install the Debian build packages that are missing

B        ?= build
CC       ?= cc
SAN      ?=
PLUGIN   ?= ratelog:latest
PREFIX   ?= /usr/local
FUZZ_SECONDS ?= 20

PKGS     := libevent libevent_pthreads jansson libprotobuf-c zlib
TEST_PKGS := cmocka libcurl

STD  := -std=c11 -D_GNU_SOURCE
WARN := -Wall -Wextra -Werror -Wpedantic -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wmissing-declarations -Wold-style-definition \
	-Wpointer-arith -Wcast-align -Wwrite-strings -Wformat=2 \
	-Wundef -Wvla -Wconversion -Wno-sign-conversion \
	-Wimplicit-fallthrough -Wdouble-promotion -Wfloat-equal \
	-Wredundant-decls -Wnested-externs -fno-common
OPT  ?= -O2 -g

ifneq ($(SAN),)
OPT  := -O1 -g -fsanitize=$(SAN) -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
LDSAN := -fsanitize=$(SAN)
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS := $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS   := $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

CPPFLAGS := -I. -I$(B)/gen $(PKG_CFLAGS)
CFLAGS   := $(STD) $(WARN) $(OPT) -pthread -fstack-protector-strong \
	-D_FORTIFY_SOURCE=2 -MMD -MP
LDFLAGS  := -pthread $(LDSAN)

# The generated protobuf-c code is not ours to reformat; it builds with the
# base warnings (still errors) but not the conversion checks.
GEN_CFLAGS := $(STD) -Wall -Wextra -Werror $(OPT) -pthread -MMD -MP

GEN_SRCS := $(B)/gen/entry.pb-c.c
LIB_SRCS := $(filter-out plugin/main.c,$(wildcard plugin/*.c)) \
	$(wildcard common/*.c store/*.c config/*.c ratelimit/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o) $(B)/gen/entry.pb-c.o
LIB      := $(B)/libratelog.a
BIN      := $(B)/ratelog

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/unit/%)
INTEG_SRCS := $(wildcard tests/integration/test_*.c)
INTEG_BINS := $(INTEG_SRCS:tests/integration/%.c=$(B)/tests/integration/%)
HELPER_SRCS := $(wildcard tests/unit/helpers/*.c)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: all deps unit integration valgrind load e2e test test-san plugin \
	plugin-push \
	install uninstall fuzz bench clean lint format

all: $(BIN)

deps:
	@sh packaging/deps.sh build

$(B)/gen/entry.pb-c.c $(B)/gen/entry.pb-c.h: plugin/proto/entry.proto
	@mkdir -p $(B)/gen
	protoc-c --c_out=$(B)/gen -Iplugin/proto plugin/proto/entry.proto

$(B)/gen/entry.pb-c.o: $(B)/gen/entry.pb-c.c
	$(CC) $(GEN_CFLAGS) $(CPPFLAGS) -c -o $@ $<

# Everything of ours may include the generated header.
$(LIB_SRCS:%.c=$(B)/%.o) $(B)/plugin/main.o: $(B)/gen/entry.pb-c.h

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(B)/plugin/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/tests/unit/%: tests/unit/%.c $(HELPER_SRCS) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(CPPFLAGS) $(TEST_CFLAGS) -o $@ $< $(HELPER_SRCS) \
		$(LIB) $(LDFLAGS) $(PKG_LIBS) $(TEST_LIBS)

$(B)/tests/integration/%: tests/integration/%.c $(LIB) $(BIN)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(CPPFLAGS) $(TEST_CFLAGS) -o $@ $< \
		$(LIB) $(LDFLAGS) $(PKG_LIBS) $(TEST_LIBS)

unit: $(UNIT_BINS)
	@sh tests/run-tier.sh unit $(UNIT_BINS)

integration: $(BIN) $(INTEG_BINS)
	@RATELOG_BIN=$(abspath $(BIN)) sh tests/run-tier.sh integration \
		$(INTEG_BINS)

# The unit tests, and the plugin behind the integration tests, under
# valgrind: any error, or a definite or indirect leak, fails.
VALGRIND_CMD := valgrind -q --leak-check=full \
	--errors-for-leak-kinds=definite,indirect --error-exitcode=99

valgrind: $(UNIT_BINS) $(BIN) $(INTEG_BINS)
	@VALGRIND="$(VALGRIND_CMD)" sh tests/run-tier.sh "unit (valgrind)" \
		$(UNIT_BINS)
	@RATELOG_REAL_BIN=$(abspath $(BIN)) \
		RATELOG_BIN=$(abspath tests/valgrind-ratelog.sh) \
		sh tests/run-tier.sh "integration (valgrind)" $(INTEG_BINS)

# 500 streams for 60 s through one plugin (LOAD_STREAMS, LOAD_SECONDS).
load: $(BIN) $(B)/tests/integration/load_streams
	@RATELOG_BIN=$(abspath $(BIN)) sh tests/run-tier.sh load \
		$(B)/tests/integration/load_streams

e2e: $(BIN)
	@RATELOG_BIN=$(abspath $(BIN)) sh tests/e2e/run.sh

# The README's test command: installs what it needs, then every tier.
test:
	@sh tests/run-all.sh

plugin: $(BIN)
	@sh packaging/make-plugin.sh $(BIN) $(PLUGIN) $(B)/plugin-dir

plugin-push: plugin
	docker plugin push $(PLUGIN)

install: deps
	@$(MAKE) --no-print-directory plugin
	@sh packaging/enable.sh $(PLUGIN)

fuzz:
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS)

bench: $(BIN) $(LIB)
	@sh bench/run.sh $(B)

lint:
	clang-format --dry-run --Werror $(wildcard plugin/*.[ch] store/*.[ch] \
		config/*.[ch] ratelimit/*.[ch] tests/*/*.[ch])

format:
	clang-format -i $(wildcard plugin/*.[ch] store/*.[ch] config/*.[ch] \
		ratelimit/*.[ch] tests/*/*.[ch])

clean:
	rm -rf build build-*

-include $(shell find $(B) -name '*.d' 2>/dev/null)
