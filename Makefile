# SurveyCharts: `make run` for the main job, `make test` for the tests. Both install what they need.
SWIFT ?= swift
SURVEYCHARTS_CHARTS_DIR ?= piecharts

.PHONY: deps build run test lint format bench-render bench-cache bench-http bench-prerender

deps:
	@scripts/install-deps.sh

build: deps
	@echo "build: swift build (debug)"
	$(SWIFT) build --product surveycharts

run: build
	@echo "run: serving the demo surveys on http://127.0.0.1:8080 (Ctrl-C stops)"
	.build/debug/surveycharts serve --charts-dir $(SURVEYCHARTS_CHARTS_DIR)

test: deps
	@echo "test: swift build --build-tests, then swift test"
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

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
