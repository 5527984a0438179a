# Makefile: builds libjobq (static and shared, versioned soname), its tools, examples and tests.
#
#   make                      libjobq.a, libjobq.so, tools and examples under build/
#   make check                the Check suites and the man-page lint
#   make check SANITIZE=thread            the same suites under ThreadSanitizer
#   make check SANITIZE=address,undefined the same suites under ASan + UBSan
#   make check CHAOS=1        the same suites with random yields in the ring and park/wake
#   make ... VALGRIND=1       with helgrind's annotations of the C11 hand-offs (lib/hb.h);
#                             make helgrind builds and uses it
#   make demo                 builds and runs examples/demo.c
#   make install PREFIX=/usr/local DESTDIR=
#
# Each SANITIZE value (and CHAOS, VALGRIND) builds in its own directory, so the builds never
# mix objects.
# scripts/setup installs the Debian packages the build needs (or names them).

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
BINDIR ?= $(PREFIX)/bin
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
SANITIZE ?=
CHAOS ?=
VALGRIND ?=
comma := ,
BUILD := build$(if $(SANITIZE),-$(subst $(comma),-,$(SANITIZE)))$(if $(CHAOS),-chaos)$(if \
	$(VALGRIND),-valgrind)

SOMAJOR := 0
VERSION := $(shell sed -n 's/^\#define JOBQ_VERSION_STRING "\(.*\)"/\1/p' include/jobq.h)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
	-Wformat=2 -Wvla -Wno-unused-parameter
SANFLAGS := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer \
	$(if $(findstring undefined,$(SANITIZE)),-fno-sanitize-recover=undefined))
ALL_CFLAGS := -std=gnu11 $(CFLAGS) $(WARN) $(SANFLAGS) -pthread -Iinclude -iquote lib \
	-DHASH_NONFATAL_OOM=1 -MMD -MP $(if $(CHAOS),-DJOBQ_CHAOS) $(if $(VALGRIND),-DJOBQ_VALGRIND)
LIB_CFLAGS := $(ALL_CFLAGS) -fPIC -fvisibility=hidden
LDLIBS := -pthread -lm

CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_HELPERS := $(filter-out $(TEST_SRC),$(wildcard tests/*.c))
EXAMPLE_SRC := $(wildcard examples/*.c)
EXAMPLE_BIN := $(EXAMPLE_SRC:examples/%.c=$(BUILD)/examples/%)
TOOL_SRC := $(wildcard tools/*.c)
TOOL_BIN := $(TOOL_SRC:tools/%.c=$(BUILD)/bin/%)
MAN3 := $(wildcard man/*.3)
MAN1 := $(wildcard man/*.1)

STATIC := $(BUILD)/libjobq.a
SHARED := $(BUILD)/libjobq.so.$(VERSION)
SETUP := $(BUILD)/.setup-ok

.PHONY: all check test manlint demo examples run-examples install uninstall clean setup
.DELETE_ON_ERROR:

all: $(STATIC) $(SHARED) $(TOOL_BIN) $(EXAMPLE_BIN)

setup $(SETUP):
	@scripts/setup $(if $(VALGRIND),valgrind)
	@mkdir -p $(BUILD) && touch $(SETUP)

$(BUILD)/lib/%.o: lib/%.c $(SETUP)
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -c -o $@ $<

$(STATIC): $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(SHARED): $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) -shared -Wl,-soname,libjobq.so.$(SOMAJOR) -o $@ $^ $(LDLIBS)
	ln -sf libjobq.so.$(VERSION) $(BUILD)/libjobq.so.$(SOMAJOR)
	ln -sf libjobq.so.$(SOMAJOR) $(BUILD)/libjobq.so

$(BUILD)/tests/%: tests/%.c $(TEST_HELPERS) $(wildcard tests/*.h) $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Itests -o $@ $< $(TEST_HELPERS) $(STATIC) \
		$(CHECK_LIBS) $(LDLIBS)

$(BUILD)/examples/%: examples/%.c $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(STATIC) $(LDLIBS)

$(BUILD)/bin/%: tools/%.c $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(STATIC) $(LDLIBS)

examples: $(EXAMPLE_BIN)

# Runs every single-file example; each is a short program that exits 0 when all went well.
run-examples: $(EXAMPLE_BIN)
	@for e in $(EXAMPLE_BIN); do echo "== $$e"; ./$$e || exit 1; done

# Every suite runs even when one fails; the target fails if any did.
test: $(TEST_BIN) $(TOOL_BIN)
	@fail=0; for t in $(TEST_BIN); do \
		echo "== $$t"; JOBQ_BUILD=$(BUILD) ./$$t || fail=1; \
	done; exit $$fail

manlint: $(SETUP)
	mandoc -Tlint -Wwarning $(MAN3) $(MAN1)
	@echo "manlint: $(words $(MAN3) $(MAN1)) pages clean"

check: test manlint

demo: $(BUILD)/examples/demo
	./$(BUILD)/examples/demo

jobq.pc: jobq.pc.in include/jobq.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCDIR@|$(INCDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' $< > $@

# Every name a page documents (its .Nm lines) is installed as a link to that page.
install: all jobq.pc
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR)/
	ln -sf libjobq.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libjobq.so.$(SOMAJOR)
	ln -sf libjobq.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libjobq.so
	install -m 644 include/jobq.h $(DESTDIR)$(INCDIR)/
	install -m 644 jobq.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	$(if $(TOOL_BIN),install -m 755 $(TOOL_BIN) $(DESTDIR)$(BINDIR)/)
	$(if $(MAN1),install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/)
	@for p in $(MAN3); do \
		install -m 644 $$p $(DESTDIR)$(MANDIR)/man3/ || exit 1; \
		page=$$(basename $$p); \
		for n in $$(sed -n 's/^\.Nm \([a-z_0-9]*\).*/\1/p' $$p | sort -u); do \
			[ "$$n.3" = "$$page" ] || ln -sf $$page $(DESTDIR)$(MANDIR)/man3/$$n.3; \
		done; \
	done

clean:
	rm -rf build build-* jobq.pc

# Benchmarks (make bench) live in bench/, the HTTP job service example in examples/httpd/,
# fuzzing, soak, valgrind and the protocol model in hardening/, each with its own rules.
-include bench/bench.mk
-include examples/httpd/httpd.mk
-include hardening/hardening.mk

-include $(LIB_OBJ:.o=.d)
