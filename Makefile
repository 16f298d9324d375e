# SurveyCharts: `make run` for the main job, `make test` for the tests. Both install what they need.
SWIFT ?= swift
SURVEYCHARTS_CHARTS_DIR ?= piecharts

.PHONY: deps test-deps build run test test-passes precompress update-reference update-screenshots lint format bench-render bench-cache bench-http bench-prerender bench-stampede fuzz

deps:
	@scripts/install-deps.sh

build: deps
	@echo "build: swift build (debug)"
	$(SWIFT) build --product surveycharts

run: build
	@echo "run: serving the demo surveys on http://127.0.0.1:8080 (Ctrl-C stops); operators sign in at /admin"
	@echo "run: a new database gets the operator demo (password printed below, once); add your own with"
	@echo "run:   .build/debug/surveycharts user add NAME --database surveys.sqlite3"
	.build/debug/surveycharts serve --charts-dir $(SURVEYCHARTS_CHARTS_DIR)

# The browser tests drive headless Chromium (Debian's chromium and chromium-driver) and run axe-core
# in each page. They run in a pass of their own: their blocking WebDriver calls would otherwise share
# the two cooperative threads of a 2-core machine with the timing-sensitive cache tests.
BROWSER_TESTS = SurveyServerTests.BrowserTests

# Suites that stop databases, restart servers behind nginx and keep clients waiting for seconds: in a
# pass of their own, so their waits never hold the cooperative threads other suites run on (with
# them in the main pass, one-millisecond suites timed out waiting for a thread).
FAULT_TESTS = SurveyServerTests.DatabaseFaultTests|SurveyServerTests.ShutdownDrainTests|SurveyServerTests.DeploymentTests|processesSharingADirectoryKeepItWithinOneBudget|anEditOnOneProcessShowsOnAnotherWithinThePageLifetime

# The HTTP suites that run a second time against a server on PostgreSQL.
POSTGRES_HTTP_TESTS = SurveyServerTests.ServerTests|SurveyServerTests.AdminAuthTests|SurveyServerTests.AdminFormTests|SurveyServerTests.HomePageTests

test-deps:
	@scripts/install-deps.sh chromium chromium-driver postgresql nginx-light systemd prometheus poppler-utils librsvg2-bin
	@scripts/fetch-axe.sh

# Every pass runs beside one throwaway PostgreSQL cluster (scripts/with-postgres.sh), removed at the end.
test: test-deps
	@echo "test: swift build --build-tests, then the tests beside a throwaway PostgreSQL cluster"
	$(SWIFT) build --build-tests
	scripts/with-postgres.sh $(MAKE) --no-print-directory test-passes

# The main pass runs one test at a time (--no-parallel): on two cores, a few long synchronous tests
# (thousands of random layouts, a whole-site migration) held both cooperative threads for half a
# minute and one-millisecond tests ran out their time limits waiting to start. Each test still runs
# its own concurrent tasks and processes; the pass takes about six minutes.
test-passes:
	@echo "test: everything but the browser, one test at a time (the store conformance suite on SQLite and PostgreSQL)"
	$(SWIFT) test --skip-build --no-parallel --skip '$(BROWSER_TESTS)|$(FAULT_TESTS)'
	@echo "test: PostgreSQL going away, SIGTERM drains, nginx in front of two servers restarted in turn"
	$(SWIFT) test --skip-build --no-parallel --filter '$(FAULT_TESTS)'
	SURVEYCHARTS_TEST_STORE=postgres $(SWIFT) test --skip-build --filter SurveyServerTests.ShutdownDrainTests
	@echo "test: the HTTP suites again, against servers on PostgreSQL"
	SURVEYCHARTS_TEST_STORE=postgres $(SWIFT) test --skip-build --filter '$(POSTGRES_HTTP_TESTS)'
	@echo "test: the browser tests"
	$(SWIFT) test --skip-build --filter $(BROWSER_TESTS)

# After a change to a file in static/: its gzip file beside it, which nginx's gzip_static sends
# (deploy/nginx.conf; the app compresses what it serves itself). StaticFilesTests fails until it is
# redone.
precompress:
	for file in static/*.css static/*.js static/*.svg; do [ -f "$$file" ] && gzip -9 -n -k -f "$$file"; done; true

# After a deliberate change to how charts look: re-render docs/reference/ (commit them with the change).
update-reference: build
	.build/debug/surveycharts demo --charts-dir docs/reference
	.build/debug/surveycharts demo --charts-dir docs/reference --scale 2
	pdftoppm -r 72 -f 2 -l 2 -png -singlefile docs/reference/report.pdf docs/reference/report-page-2

# After a deliberate change to how the pages look: the browser tests, with their screenshots copied
# over docs/screenshots/ (commit them with the change). Other runs leave them in .build/screenshots/.
update-screenshots: test-deps
	$(SWIFT) build --build-tests
	SURVEYCHARTS_UPDATE_SCREENSHOTS=1 scripts/with-postgres.sh $(SWIFT) test --skip-build --filter $(BROWSER_TESTS)

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

format:
	$(SWIFT) format --in-place --recursive Sources Tests Package.swift

bench-render: deps
	@scripts/bench-render.sh

bench-cache: deps
	@scripts/bench-cache.sh

bench-http: deps
	@scripts/bench-http.sh

bench-prerender: deps
	@scripts/bench-prerender.sh

bench-stampede: deps
	@scripts/bench-stampede.sh

# libFuzzer on every parser of outside input, FUZZ_SECONDS (60) each; `make test` replays the corpus.
fuzz: deps
	@scripts/fuzz.sh
