# SPDX-License-Identifier: Apache-2.0
# podtuner: one non-recursive Makefile. `make help` lists the targets.
#
#   make                 build build/rel/podtuner
#   make SANITIZE=address,undefined test   the suite under ASan+UBSan (build/san)
#   make WERROR=0        do not treat warnings as errors
#   make bench           webhook vs the Go peer, engine, agent at 250 pods (docs/benchmarks.md)
#   make bench-effect    tuned vs untuned Go and Java workloads in the VM (docs/effect.md)
#   make image           the container image (IMAGE=podtuner:$(VERSION)) with docker, podman or buildah
#   make fuzz            each libFuzzer target in tests/fuzz for FUZZ_SECONDS (60) s, clang, build/fuzz

SANITIZE ?=
WERROR   ?= 1
PREFIX   ?= /usr/local
CC       ?= gcc
O        := build/$(if $(SANITIZE),san,rel)
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo dev)

PKGS     := libmicrohttpd libcjson yaml-0.1 libcurl openssl gnutls zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wold-style-definition -Wwrite-strings -Wpointer-arith -Wvla -Wformat=2 \
        -Wundef -Wimplicit-fallthrough
ifeq ($(WERROR),1)
WARN += -Werror
endif

CFLAGS_ALL := -std=gnu11 -g -O2 $(WARN) -MMD -MP -D_GNU_SOURCE \
              $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL := $(LDFLAGS)
LIBS := $(PKG_LIBS) -lpthread -lm

ifneq ($(SANITIZE),)
CFLAGS_ALL  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all -O1
LDFLAGS_ALL += -fsanitize=$(SANITIZE)
else
CFLAGS_ALL  += -D_FORTIFY_SOURCE=2 -fstack-protector-strong
endif

# Every module but cli/main.c goes into one static library that the binary
# and the unit tests link.
LIB_SRC  := $(wildcard core/*.c webhook/*.c rebalancer/*.c) $(filter-out cli/main.c,$(wildcard cli/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(O)/%.o) $(O)/gen/embedded.o $(O)/gen/version.o
TEST_SRC := $(wildcard tests/unit/*_test.c)
TEST_BIN := $(TEST_SRC:%.c=$(O)/%)
BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_BIN := $(BENCH_SRC:%.c=$(O)/%)
POLICIES := $(sort $(wildcard policies/*.yaml))

BIN := $(O)/podtuner
IMAGE ?= podtuner:$(VERSION)
V ?= 0
Q := $(if $(filter 1,$(V)),,@)

.PHONY: FORCE all deps test unit integration vm vm-bin demo bench bench-effect lint format clean install help image \
	fuzz fuzz-bin
all: $(BIN)

$(O)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC    $<')
	$(Q)$(CC) $(CFLAGS_ALL) -c -o $@ $<

# The shipped policies are compiled in, so the binary has a default set.
$(O)/gen/embedded.S: $(POLICIES) scripts/embed.sh
	@mkdir -p $(@D)
	$(Q)scripts/embed.sh $(POLICIES) > $@
$(O)/gen/embedded.o: $(O)/gen/embedded.S
	$(Q)$(CC) -c -o $@ $<

# The version lives in one generated file, rewritten only when it changes:
# make re-reads its time after this recipe, so version.o (and the link)
# are redone only then.
$(O)/gen/version.c: FORCE
	@mkdir -p $(@D)
	@v='const char pt_version[] = "$(VERSION)";'; [ "$$(cat $@ 2>/dev/null)" = "$$v" ] || echo "$$v" >$@
FORCE:
$(O)/gen/version.o: $(O)/gen/version.c
	$(Q)$(CC) -c -o $@ $<

$(O)/libpodtuner.a: $(LIB_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BIN): $(O)/cli/main.o $(O)/libpodtuner.a
	@$(if $(Q),echo '  LINK  $@')
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)
	@ln -sf $(notdir $(O))/podtuner build/podtuner-$(notdir $(O))

$(O)/tests/unit/%_test: tests/unit/%_test.c $(O)/libpodtuner.a
	@mkdir -p $(@D)
	@$(if $(Q),echo '  TEST  $@')
	$(Q)$(CC) $(CFLAGS_ALL) -Wno-missing-prototypes $(LDFLAGS_ALL) -o $@ $< $(O)/libpodtuner.a $(LIBS)

# Helpers that run inside the test VM (tests/vm/): static, so the guest
# needs no libraries, and never sanitized, whatever SANITIZE says.
VM_BIN    := build/vm/bin/vmtool build/vm/bin/cgroup_probe
VM_CFLAGS := -std=gnu11 -O2 -static $(WARN) -D_GNU_SOURCE

build/vm/bin/vmtool: tests/vm/guest/vmtool.c
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC    $@')
	$(Q)$(CC) $(VM_CFLAGS) -o $@ $< -lm
build/vm/bin/cgroup_probe: tests/vm/guest/cgroup_probe.c rebalancer/cgroup.c core/err.c rebalancer/cgroup.h core/err.h tests/unit/test.h
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC    $@')
	$(Q)$(CC) $(VM_CFLAGS) -Wno-missing-prototypes -o $@ $(filter %.c,$^) -lm

vm-bin: $(VM_BIN)

# Benchmark programs: built by `make bench` only.
$(O)/tests/bench/%: tests/bench/%.c $(O)/libpodtuner.a
	@mkdir -p $(@D)
	@$(if $(Q),echo '  BENCH $@')
	$(Q)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(O)/libpodtuner.a $(LIBS)

# libFuzzer targets (tests/fuzz/): clang, ASan+UBSan, their own objects in
# build/fuzz whatever O and SANITIZE say, so the smoke test in `make test`
# builds the same binaries in every build. `make fuzz` runs each target for
# FUZZ_SECONDS seconds, one after another, on a corpus kept in
# build/fuzz/corpus and seeded from the fixtures (tests/fuzz/seeds.sh).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_O       := build/fuzz
FUZZ_CFLAGS  := -std=gnu11 -g -O1 -fno-omit-frame-pointer $(WARN) -MMD -MP -D_GNU_SOURCE \
                $(PKG_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_O)/obj/%.o) $(FUZZ_O)/obj/gen/embedded.o $(FUZZ_O)/obj/gen/version.o
FUZZ_BIN     := $(patsubst tests/fuzz/%.c,$(FUZZ_O)/%,$(wildcard tests/fuzz/*_fuzz.c))

$(FUZZ_O)/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo '  FUZZCC $<')
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(FUZZ_O)/gen/version.c:
	@mkdir -p $(@D)
	@echo 'const char pt_version[] = "fuzz";' >$@
$(FUZZ_O)/obj/gen/version.o: $(FUZZ_O)/gen/version.c
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) -c -o $@ $<
$(FUZZ_O)/gen/embedded.S: $(POLICIES) scripts/embed.sh
	@mkdir -p $(@D)
	$(Q)scripts/embed.sh $(POLICIES) > $@
$(FUZZ_O)/obj/gen/embedded.o: $(FUZZ_O)/gen/embedded.S
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) -c -o $@ $<
$(FUZZ_O)/libpodtuner.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^
$(FUZZ_O)/%_fuzz: tests/fuzz/%_fuzz.c tests/fuzz/fuzz.h $(FUZZ_O)/libpodtuner.a
	@$(if $(Q),echo '  FUZZ  $@')
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Wno-missing-prototypes -fsanitize=fuzzer -o $@ $< $(FUZZ_O)/libpodtuner.a $(LIBS)

fuzz-bin: $(FUZZ_BIN)
fuzz: fuzz-bin
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

deps:
	@scripts/deps.sh

unit: $(TEST_BIN)
test: deps all $(TEST_BIN) $(VM_BIN)
	@O=$(O) tests/run.sh

demo: deps all
	@O=$(O) scripts/demo.sh

bench: deps all $(BENCH_BIN)
	@O=$(O) tests/bench/run.sh

bench-effect: deps all $(VM_BIN)
	@O=$(O) tests/vm/effect.sh

image:
	@scripts/image.sh $(IMAGE) $(VERSION)

lint:
	@scripts/lint.sh

format:
	clang-format -i $(wildcard core/*.[ch] webhook/*.[ch] rebalancer/*.[ch] cli/*.[ch] tests/unit/*.[ch])

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/podtuner

clean:
	rm -rf build

help:
	@sed -n 's/^#   //p' Makefile

# V=1 shows the full commands.

-include $(shell find build -name '*.d' 2>/dev/null)
