# examples/httpd/httpd.mk: jobq-httpd, the HTTP job service example, included by the top
# Makefile (which defines BUILD, STATIC, ALL_CFLAGS, LDLIBS and SETUP).
#
#   make httpd          builds $(BUILD)/examples/jobq-httpd
#   make check-httpd    builds it and runs tests/httpd/run.sh (curl) and tests/httpd/browser.sh
#                       (the page in headless Chromium)
#
# Its Debian packages are installed (as root) or named by scripts/setup, through a stamp of its
# own so that the library's build never needs them.

HTTPD_DIR := $(BUILD)/examples/httpd
HTTPD_BIN := $(BUILD)/examples/jobq-httpd
HTTPD_SRC := $(wildcard examples/httpd/*.c)
HTTPD_OBJ := $(HTTPD_SRC:examples/%.c=$(BUILD)/examples/%.o)
HTTPD_PKGS := libmicrohttpd-dev libcurl4-gnutls-dev libjansson-dev libgnutls28-dev curl \
	chromium python3
HTTPD_SETUP := $(HTTPD_DIR)/.setup-ok
HTTPD_CFLAGS = $(ALL_CFLAGS) $(shell pkg-config --cflags libmicrohttpd libcurl jansson gnutls)
HTTPD_LIBS = $(shell pkg-config --libs libmicrohttpd libcurl jansson gnutls)

.PHONY: httpd httpd-setup check-httpd

httpd-setup $(HTTPD_SETUP): $(SETUP)
	@scripts/setup $(HTTPD_PKGS)
	@mkdir -p $(HTTPD_DIR) && touch $(HTTPD_SETUP)

$(BUILD)/examples/httpd/%.o: examples/httpd/%.c examples/httpd/httpd.h include/jobq.h \
		$(HTTPD_SETUP)
	$(CC) $(HTTPD_CFLAGS) -c -o $@ $<

$(HTTPD_BIN): $(HTTPD_OBJ) $(STATIC)
	$(CC) $(ALL_CFLAGS) -o $@ $(HTTPD_OBJ) $(STATIC) $(HTTPD_LIBS) $(LDLIBS)

httpd: httpd-setup $(HTTPD_BIN)

check-httpd: httpd
	timeout 300 tests/httpd/run.sh $(HTTPD_BIN)
	timeout 300 tests/httpd/browser.sh $(HTTPD_BIN)

-include $(HTTPD_OBJ:.o=.d)
