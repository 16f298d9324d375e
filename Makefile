# SurveyCharts: `make run` for the main job, `make test` for the tests. Both install what they need.
SWIFT ?= swift
SURVEYCHARTS_CHARTS_DIR ?= piecharts

.PHONY: deps build run test lint format bench-render bench-cache

deps:
	@scripts/install-deps.sh

build: deps
	@echo "build: swift build (debug)"
	$(SWIFT) build --product surveycharts

run: build
	@echo "run: rendering the reference charts into $(SURVEYCHARTS_CHARTS_DIR)/"
	.build/debug/surveycharts demo --charts-dir $(SURVEYCHARTS_CHARTS_DIR)

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
