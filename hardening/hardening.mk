# hardening/hardening.mk: fuzzing, the soak test, valgrind and the protocol models (issue 7).
# Included by the top Makefile; see hardening/README.md.
#
#   make fuzz [FUZZ_SECONDS=60]    libFuzzer (clang, ASan + UBSan) on the cron parser/search and
#                                  the TZif reader, FUZZ_SECONDS each; fails on any crash or hang
#   make soak [SOAK_SECONDS=600]   mixed load with executor restarts; exactly-once and flat memory
#   make valgrind                  the Check suites under memcheck, the threaded ones under
#                                  helgrind (in the VALGRIND=1 build, with lib/hb.h's annotations)
#   make model                     the park/wake protocol and a batch's take and steal in
#                                  Promela, checked by spin; each model's broken variants must
#                                  fail
#
# Seed corpora are generated at build time into build-fuzz/seed (never committed); what the
# fuzzers add goes to build-fuzz/corpus, kept between runs. Inputs that once crashed or hung
# live in hardening/regress/ and are replayed by tests/test_fuzz_regress.c in every build.

.PHONY: fuzz fuzz-build soak valgrind memcheck helgrind helgrind-suites model

# Independent runs (fuzzers, valgrind's suites, the model's variants) go side by side, one per
# CPU: each run is a target of its own for make -j, -Otarget prints each one's output whole when
# it ends, and -k runs them all even when one fails (the target then fails).
HARDEN_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SIDE_BY_SIDE = $(MAKE) --no-print-directory -k -j$(HARDEN_JOBS) -Otarget

FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 600
JOBQ_VECTORS ?= ../shared/cron/vectors.tsv
TZ_ROOT ?= /usr/share/zoneinfo

# ---- fuzzing ----

FUZZ_BUILD := build-fuzz
FUZZ_CC := clang
FUZZ_CFLAGS := -std=gnu11 -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter \
	-pthread -Iinclude -iquote lib -DHASH_NONFATAL_OOM=1 -fno-sanitize-recover=all
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_TARGETS := cron tz
.SECONDARY: $(FUZZ_LIB_OBJ)

$(FUZZ_BUILD)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: hardening/fuzz_%.c $(FUZZ_LIB_OBJ) lib/*.h include/jobq.h
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_LIB_OBJ) \
		$(LDLIBS)

# Seeds: every distinct expression of the shared vectors, one a file.
$(FUZZ_BUILD)/seed/cron/.stamp: $(JOBQ_VECTORS)
	@rm -rf $(@D) && mkdir -p $(@D)
	awk -F'\t' -v dir=$(@D) '!/^#/ && NF && !seen[$$1]++ { f = sprintf("%s/v%04d", dir, ++n); \
		printf "%s", $$1 > f; close(f) }' $<
	@touch $@

# Seeds: zones picked for their rules (negative DST, 30-minute DST, +12:45, no DST, footers
# with and without rules) and every 17th file of the rest of the system's tzdata: about 40.
TZ_PICKS := America/New_York Europe/Berlin Europe/Dublin Africa/Casablanca Australia/Lord_Howe \
	Pacific/Chatham Asia/Kathmandu Antarctica/Troll America/Sao_Paulo Pacific/Apia \
	America/Godthab Asia/Tehran Etc/GMT-14 UTC Factory
$(FUZZ_BUILD)/seed/tz/.stamp:
	@rm -rf $(@D) && mkdir -p $(@D)
	@for z in $(TZ_PICKS); do cp $(TZ_ROOT)/$$z $(@D)/$$(echo $$z | tr / _); done
	@find $(TZ_ROOT) -type f ! -path '*/right/*' ! -path '*/posix/*' | sort | \
		awk 'NR % 17 == 0' | while read -r f; do \
		[ "$$(head -c4 "$$f")" = TZif ] && cp "$$f" $(@D)/$$(echo "$${f#$(TZ_ROOT)/}" | tr / _); \
		done; true
	@echo "fuzz: $$(ls $(@D) | wc -l) tz seeds"
	@touch $@

# clang and its libFuzzer runtime (Debian 12: clang-14, libclang-rt-14-dev).
FUZZ_SETUP := $(FUZZ_BUILD)/.setup-ok
$(FUZZ_SETUP):
	@scripts/setup clang libclang-rt-14-dev
	@mkdir -p $(@D) && touch $@
$(FUZZ_LIB_OBJ): $(FUZZ_SETUP)

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

# Each target runs FUZZ_SECONDS on its kept corpus, the seeds and the regression inputs; a
# crash, a leak, a UB report or a hang (-timeout) stops it with a non-zero status and leaves
# the input in build-fuzz/artifacts/.
fuzz: fuzz-build $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/seed/%/.stamp)
	@mkdir -p $(FUZZ_BUILD)/artifacts
	@$(SIDE_BY_SIDE) $(FUZZ_TARGETS:%=fuzz-run/%)

.PHONY: $(FUZZ_TARGETS:%=fuzz-run/%)
$(FUZZ_TARGETS:%=fuzz-run/%): fuzz-run/%:
	@mkdir -p $(FUZZ_BUILD)/corpus/$*
	@echo "== fuzz_$* for $(FUZZ_SECONDS) s"
	@./$(FUZZ_BUILD)/fuzz_$* -max_total_time=$(FUZZ_SECONDS) -timeout=10 -max_len=4096 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_BUILD)/artifacts/$*- \
		$(FUZZ_BUILD)/corpus/$* $(FUZZ_BUILD)/seed/$* hardening/regress/$* \
		>$(FUZZ_BUILD)/$*.log 2>&1 || { tail -40 $(FUZZ_BUILD)/$*.log; exit 1; }
	@grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' $(FUZZ_BUILD)/$*.log | tail -2
	@grep -E 'stat::(number_of_executed_units|average_exec_per_sec)' $(FUZZ_BUILD)/$*.log
	@echo "fuzz_$*: corpus $$(ls $(FUZZ_BUILD)/corpus/$* | wc -l) files," \
		"seeds $$(ls $(FUZZ_BUILD)/seed/$* | wc -l), no crash"

$(BUILD)/tests/test_fuzz_regress: hardening/fuzz_cron.c hardening/fuzz_tz.c

# The fuzzers' library objects depend on the headers too.
$(FUZZ_LIB_OBJ): lib/*.h include/jobq.h

# ---- soak ----

$(BUILD)/hardening/soak: hardening/soak.c $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(STATIC) $(LDLIBS)

soak: $(BUILD)/hardening/soak
	./$(BUILD)/hardening/soak $(SOAK_SECONDS)

# ---- valgrind ----

# Check runs each test in the same process (CK_FORK=no) so valgrind sees it; the stress test
# runs a smaller count (JOBQ_STRESS_TOTAL) and the property test its quick mode. Memcheck runs
# every suite; helgrind (half DRD's false positives on C11 atomics here, and twice as fast; see
# README.md) runs the suites with threads, with hardening/valgrind.supp.
VG := valgrind -q --error-exitcode=1 --suppressions=hardening/valgrind.supp
VG_ENV := CK_FORK=no JOBQ_STRESS_TOTAL=4000 JOBQ_TEST_QUICK=1 JOBQ_BUILD=$(BUILD)
VG_THREAD_TESTS := test_cron_sched test_executor test_walltime test_stress test_cron test_events \
	test_retry test_oom test_oom_sweep

valgrind: memcheck helgrind

# valgrind runs one thread of a process at a time, so its suites go side by side.
memcheck: $(TEST_BIN) $(TOOL_BIN)
	@scripts/setup valgrind
	@$(SIDE_BY_SIDE) $(TEST_BIN:%=memcheck-run/%)

.PHONY: $(TEST_BIN:%=memcheck-run/%)
$(TEST_BIN:%=memcheck-run/%): memcheck-run/%:
	@echo "== memcheck $*"
	@$(VG_ENV) $(VG) --leak-check=full --errors-for-leak-kinds=definite ./$*

# helgrind knows the ordering of pthread calls only; the library's hand-offs through C11
# atomics are annotated for it in the VALGRIND=1 build (lib/hb.h), so helgrind runs the suites
# built there (build-valgrind); hardening/valgrind.supp covers the rest, each entry documented.
# --fair-sched=yes: valgrind runs one thread at a time, and with its default lock a thread that
# never blocks (test_cron_sched's ticker, which calls jobq_clock_advanced in a loop) takes it
# back again and again: that suite took from 20 s to over 11 minutes; in turn, about 40 s.
helgrind:
	@scripts/setup valgrind
	@$(MAKE) --no-print-directory VALGRIND=1 helgrind-suites

helgrind-suites: $(VG_THREAD_TESTS:%=$(BUILD)/tests/%)
	@$(SIDE_BY_SIDE) VALGRIND=1 $(VG_THREAD_TESTS:%=helgrind-run/%)

.PHONY: $(VG_THREAD_TESTS:%=helgrind-run/%)
$(VG_THREAD_TESTS:%=helgrind-run/%): helgrind-run/%:
	@echo "== helgrind $*"
	@$(VG_ENV) $(VG) --tool=helgrind --fair-sched=yes ./$(BUILD)/tests/$*

# ---- the protocol models ----

MODEL_BUILD := build-model
SPIN_FLAGS := -DSAFETY -DNOFAIR -DVECTORSZ=4096

# Runs spin, side by side, on each model's real protocol (must pass: no assertion fails, no
# invalid end state) and on its broken variants (each must fail).
#   parkwake.pml (the park/wake protocol): without the sleeper's seq_cst re-check (NO_RECHECK),
#     with the re-check hoisted above the registration, as a missing fence allows (NO_FENCE),
#     pool.c before the fix of the park exit (LOOP_TOP), a wake flag never cleared
#     (KEEP_WAKING).
#   batch.pml (a batch's take and steal, under x86-TSO): the owner without its second read of
#     word (NO_RECHECK) or without its wait for a thief (NO_WAIT), the thief without membarrier
#     (NO_MEMBARRIER) or with a store for its last CAS (NO_GEN_CHECK), a refill that writes its
#     items before it empties word (NO_EMPTY_FIRST).
MODEL_VARIANTS_parkwake := NO_RECHECK NO_FENCE LOOP_TOP KEEP_WAKING
MODEL_VARIANTS_batch := NO_RECHECK NO_WAIT NO_MEMBARRIER NO_GEN_CHECK NO_EMPTY_FIRST
MODEL_RUNS := $(foreach m,parkwake batch,$(addprefix model-run/$(m)/,OK $(MODEL_VARIANTS_$(m))))

model: hardening/parkwake.pml hardening/batch.pml
	@scripts/setup spin
	@rm -rf $(MODEL_BUILD)
	@$(SIDE_BY_SIDE) $(MODEL_RUNS)
	@echo "model: protocols verified; every broken variant fails as it must"

# model-run/MODEL/VARIANT. gcc -w: pan.c's generated array indexing draws warnings that do not
# apply.
.PHONY: $(MODEL_RUNS)
$(MODEL_RUNS): model-run/%:
	@m=$(firstword $(subst /, ,$*)); v=$(lastword $(subst /, ,$*)); d=$(MODEL_BUILD)/$*; \
	mkdir -p $$d && cp hardening/$$m.pml $$d/ && \
		( cd $$d && spin -D$$v -a $$m.pml && gcc -O2 -w $(SPIN_FLAGS) -o pan pan.c && \
			./pan -m100000 > pan.out ); \
	echo "== $*: $$(grep -E 'errors:' $$d/pan.out | sed 's/^[[:space:]]*//')," \
		"$$(grep -E 'states, stored' $$d/pan.out | sed 's/^[[:space:]]*//')"; \
	grep -E 'assertion violated|invalid end state[^s]' $$d/pan.out | head -1; \
	if [ $$v = OK ]; then grep -q 'errors: 0' $$d/pan.out || \
		{ echo "model: $$m FAILED (trail in $$d)"; exit 1; }; \
	elif grep -q 'errors: 0' $$d/pan.out; then \
		echo "model: variant $* was NOT caught"; exit 1; fi
