# bench/bench.mk: `make bench`, included by the top Makefile (which defines BUILD, STATIC,
# ALL_CFLAGS and LDLIBS). See docs/BENCHMARKS.md.
#
#   make bench                      builds and runs the whole comparison (about 2 minutes), draws
#                                   the charts, prints the report; the ratio lines come last
#   make bench BENCH_ARGS=-q        a quick smoke run (figures not meaningful)
#   make bench BENCH_ARGS="-r 5"    five runs per figure instead of three
#   make bench-docs                 copies the charts of the last run into docs/
#
# Everything lands in $(BUILD)/bench/: the binary, report.txt, the .dat files and the PNGs.

BENCH_DIR := $(BUILD)/bench
BENCH_BIN := $(BENCH_DIR)/bench
# cron_next.c and cron_timer.c are standalone programs with their own main (see their tops).
BENCH_SRC := $(filter-out bench/cron_next.c bench/cron_timer.c,$(wildcard bench/*.c))
BENCH_HDR := $(wildcard bench/*.h)
BENCH_PKGS := libglib2.0-dev libuv1-dev gnuplot-nox
BENCH_SETUP := $(BENCH_DIR)/.setup-ok
BENCH_ARGS ?=
BENCH_CFLAGS = $(patsubst -Ilib,-iquote lib,$(filter-out -MMD -MP,$(ALL_CFLAGS))) \
	$(shell pkg-config --cflags glib-2.0 libuv)
BENCH_LIBS = $(shell pkg-config --libs glib-2.0 libuv)

.PHONY: bench bench-setup bench-docs

bench-setup $(BENCH_SETUP):
	@scripts/setup $(BENCH_PKGS)
	@mkdir -p $(BENCH_DIR) && touch $(BENCH_SETUP)

$(BENCH_BIN): $(BENCH_SRC) $(BENCH_HDR) lib/ring.h $(STATIC) $(BENCH_SETUP)
	$(CC) $(BENCH_CFLAGS) -o $@ $(BENCH_SRC) $(STATIC) $(BENCH_LIBS) $(LDLIBS)

# The binary prints its progress on stderr and its report on stdout (also report.txt); the
# report is printed last so that the ratio lines end the output.
bench: bench-setup $(BENCH_BIN)
	@$(BENCH_BIN) -o $(BENCH_DIR) $(BENCH_ARGS) >/dev/null
	@gnuplot -e "dir='$(BENCH_DIR)'" bench/plot.gp
	@cat $(BENCH_DIR)/report.txt

bench-docs:
	cp $(BENCH_DIR)/bench-throughput.png $(BENCH_DIR)/bench-latency.png docs/
