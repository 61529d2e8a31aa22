# Workbench: the entry point for people and CI alike. `make help` lists the targets.
CARGO ?= cargo
BIN   := target/debug/workbench

# Nothing but a Rust toolchain, a C compiler and make is needed: JPEG has a pure-Rust codec and
# libpq's OpenSSL is built from source. Two system libraries are used when pkg-config finds them:
# libjpeg-turbo (Debian: libturbojpeg0-dev), two to three times faster on images, and OpenSSL
# (libssl-dev), which saves building it. `make FEATURES=` builds the pure-Rust codec anyway.
have = $(shell pkg-config --exists $(1) 2>/dev/null && echo yes)
FEATURES ?= $(if $(call have,libturbojpeg),--features workbench-app/turbojpeg)
ifndef OPENSSL_NO_VENDOR
ifeq ($(call have,openssl),yes)
export OPENSSL_NO_VENDOR := 1
endif
endif

.DEFAULT_GOAL := help
.PHONY: fresh-check help run demo test lint doc check-links fmt openapi openapi-check build release link-order bench bench-caldav bench-tokens bench-project bench-latency bench-search bench-chat bench-radio ws-bench fuzz-api clean-data browser-test

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

run: ## Serve the API on embedded SQLite (./data/workbench.db) at http://127.0.0.1:8080
	$(CARGO) run $(FEATURES) -p workbench-app --bin workbench -- serve

demo: ## Fill an empty database (DATABASE_URL, by default ./data/workbench.db) with demo data; then `make run`
	$(CARGO) run $(FEATURES) -p workbench-app --bin workbench -- seed --demo

# Most tests wait on sockets, databases and timers rather than the CPU: eight at a time finish the
# black-box suite in a third of the time on two cores.
TEST_THREADS ?= 8

test: ## Run every test (PostgreSQL/Redis tests skip loudly when unreachable, fail with CI=true), the pure-Rust JPEG codec's too, then the library example
	$(CARGO) test --workspace $(FEATURES) -- --test-threads=$(TEST_THREADS)
	$(if $(FEATURES),$(CARGO) test -p workbench-media)
	$(CARGO) run -q -p workbench-example-tasks

lint: ## Formatting check and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets $(FEATURES) -- -D warnings
	$(if $(FEATURES),$(CARGO) clippy -p workbench-media --all-targets -- -D warnings)

doc: ## API docs of every crate (target/doc/), rustdoc warnings as errors: broken links, undocumented public items of domain crates
	RUSTDOCFLAGS="$${RUSTDOCFLAGS:-} -D warnings" $(CARGO) doc --workspace --no-deps

check-links: ## Fail when a relative link or #anchor of a Markdown file (README.md, docs/, ...) does not resolve
	python3 scripts/check-links.py

fmt: ## Format the code
	$(CARGO) fmt --all

openapi: ## Regenerate openapi/openapi.json from the code
	$(CARGO) build -q $(FEATURES) -p workbench-app --bin workbench
	$(BIN) openapi > openapi/openapi.json.tmp && mv openapi/openapi.json.tmp openapi/openapi.json

openapi-check: ## Fail when openapi/openapi.json differs from what the code generates
	$(CARGO) build -q $(FEATURES) -p workbench-app --bin workbench
	@$(BIN) openapi | diff -u openapi/openapi.json - > /dev/null || \
		{ echo "openapi/openapi.json is stale: run 'make openapi' and commit it"; exit 1; }

build: ## Debug build of the binary
	$(CARGO) build $(FEATURES) -p workbench-app --bin workbench

release: ## Optimised build of the binary (target/release/workbench), its code laid out by crates/app/link-order.txt
	$(CARGO) build --release $(FEATURES) -p workbench-app --bin workbench
	@scripts/link-order.sh --check target/release/workbench

link-order: release ## Regenerate crates/app/link-order.txt: what a release server runs at start and idle, under callgrind (docs/development.md)
	scripts/link-order.sh target/release/workbench

fresh-check: ## On a bare Debian root (gcc, make, git; no -dev package): git clone, make run serving, make test green, timed (root; ~40 min)
	./scripts/fresh-check.sh

clean-data: ## Delete the local SQLite database
	rm -rf ./data

bench: ## Load-test hot task paths on SQLite and PostgreSQL (release build, wrk); figures in target/bench/
	./scripts/bench.sh

bench-caldav: ## CalDAV beside Radicale 3 and Xandikos at 1,000 todos: PUT, initial sync, multiget, incremental sync (SIZES=1000,100000 adds Workbench alone at 100,000; BENCH_DATABASE_URL for PostgreSQL); figures in target/bench/caldav.md
	$(CARGO) build --release $(FEATURES) -p workbench-app --bin workbench
	@[ -x target/caldav-venv/bin/python ] || python3 -m venv target/caldav-venv
	@target/caldav-venv/bin/pip install -q --disable-pip-version-check -r tests/caldav/requirements.txt
	target/caldav-venv/bin/python scripts/bench-caldav.py --serve target/release/workbench --sizes $${SIZES:-1000}

bench-tokens: ## A personal access token against a JWT on GET /tasks/{id}, same binary and task, alternating runs; figures in target/bench/tokens.md
	./scripts/bench-tokens.sh

bench-latency: ## The bench's `mixed` scenario at a fixed rate (RATE=1000 req/s) to Workbench, Go/Gin and Express, p50/p99/p99.9 without coordinated omission (needs ../shared/bench/setup.sh); figures in target/bench/latency-*/
	./scripts/bench-latency.sh

bench-search: ## GET /search with three qualifiers over 100,000 tasks on PostgreSQL: req/s, p50/p95/p99; figures in target/bench/search.md
	./scripts/bench-search.sh

bench-project: ## A project of 100,000 tasks and 50 members on PostgreSQL: random pages of GET /tasks?project_id=, alone and with writes; figures in target/bench/project.md
	./scripts/bench-project.sh

browser-test: ## The live dashboard in Debian's chromium (playwright-core): sign in, live charts, an alert, the CSV
	./scripts/browser-test.sh

bench-radio: ## A radio station against Icecast's figures (1,000 listeners; `./scripts/bench-radio.sh 3000` for more) and a rendition's speed (release build)
	./scripts/bench-radio.sh

bench-chat: ## Conversations and chat search over 1,000,000 messages on PostgreSQL (release build, wrk); figures in target/bench/chat.md
	./scripts/bench-chat.sh

ws-bench: ## WebSocket load (tools/wsload): sockets held, DM/task-event latency, a room, a slow client; figures in target/ws-bench/
	./scripts/ws-bench.sh

fuzz-api: ## Schemathesis over every documented operation against the release binary (reports in target/fuzz-api/)
	./scripts/fuzz-api.sh

# --- Deploy (deploy/, scripts/deploy*, scripts/image.sh, scripts/gateway-test.sh) ------------
.PHONY: image image-prebuilt deploy-local deploy-local-down deploy-check gateway-test deploy fault-runs
HELM ?= $(shell command -v helm 2>/dev/null || echo /tmp/wb-deploy/helm/helm/helm)

image: ## Build deploy/Dockerfile for real (Rust builder stage, --network none) and smoke-test it
	nice -n 19 ./scripts/image.sh build
	./scripts/image.sh smoke

image-prebuilt: ## The image around the host's debug binary (no Rust compiled in a container)
	nice -n 19 $(CARGO) build -q $(FEATURES) -p workbench-app --bin workbench
	./scripts/image.sh prebuilt target/debug/workbench
	./scripts/image.sh smoke

deploy-local: ## Bring up deploy/compose.yaml (2 API replicas, worker, PG, Redis, NATS, gateway); print the URL
	./scripts/deploy-local.sh up
	./scripts/deploy-local.sh smoke

deploy-local-down: ## Take deploy/compose.yaml down (volumes too)
	./scripts/deploy-local.sh down

deploy-check: ## Offline checks: hadolint, compose config, helm lint/template, kubernetes-validate, checkov
	./scripts/deploy-check.sh

gateway-test: ## Three route-group roles and a worker behind nginx on loopback: a user's walk through the gateway
	./scripts/gateway-test.sh

deploy: ## helm upgrade --install deploy/helm/workbench where a cluster answers; otherwise show what it would apply
	@if [ -x "$(HELM)" ] && kubectl cluster-info >/dev/null 2>&1; then \
		$(HELM) upgrade --install $${RELEASE:-workbench} deploy/helm/workbench $${HELM_ARGS:-} --wait; \
	else \
		echo "No Kubernetes cluster answers (kubectl cluster-info); this is what would be applied:"; \
		[ -x "$(HELM)" ] || ./scripts/deploy-check.sh tools >/dev/null; \
		$(HELM) template $${RELEASE:-workbench} deploy/helm/workbench $${HELM_ARGS:-}; \
	fi

fault-runs: ## Two instances behind the gateway under write load: restart PostgreSQL, Redis; kill -9 one
	./scripts/fault-runs.sh
