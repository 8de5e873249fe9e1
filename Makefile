# Emojiboard: `make run` starts the whole app locally, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
WHEELS := .wheels
PORT ?= 8000
DYNAMODB ?= local
STAGE ?= dev
AWS_ARGS = --stage $(STAGE) $(if $(PROFILE),--profile $(PROFILE)) $(if $(REGION),--region $(REGION))

.PHONY: run test bench deploy destroy package install check-java clean

run: install check-java
	$(PY) -m devkit serve --demo --import-history 30 --port $(PORT) --dynamodb $(DYNAMODB)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# Performance figures on this machine (a few minutes; docs/performance.md has the last ones).
bench: install check-java
	$(PY) -m devkit bench $(BENCH_ARGS)

# On AWS (README, "Deploying to AWS"): make deploy STAGE=prod [PROFILE=...] [REGION=...]
deploy: install
	$(PY) -m devkit deploy $(AWS_ARGS)

destroy: install
	$(PY) -m devkit destroy $(AWS_ARGS)

# One CloudFormation template for the whole app, in dist/cloudformation/sam.json.
package: install
	$(PY) -m devkit package --stage $(STAGE)

install: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	# The Lambda package's wheels, so `chalice package|deploy` in the tests runs offline: this
	# machine's (Chalice's first `pip download` takes them), and Lambda's. pip picks this
	# machine's newest manylinux (cryptography: manylinux_2_34), which Chalice refuses for
	# python3.11 (Lambda's glibc is 2.26) and would leave out of the bundle with a warning;
	# so also the manylinux2014 (glibc 2.17) x86_64 wheels for this Python, which it takes.
	rm -rf $(WHEELS) && $(PY) -m pip download --quiet --disable-pip-version-check -r requirements.txt -d $(WHEELS)
	$(PY) -m pip download --quiet --disable-pip-version-check -r requirements.txt -d $(WHEELS) \
		--only-binary=:all: --platform manylinux2014_x86_64 --implementation cp \
		--python-version $$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# DynamoDB Local needs Java 17+; without it the stack falls back to moto (data not kept).
check-java:
	@$(PY) -c "from devkit import dynamodb as d; r = d.why_not_local(); print('DynamoDB Local: ready' if r is None else 'WARNING: ' + r + ': DynamoDB Local cannot run, so the stack uses moto and keeps no data. Install Java 17+ (Debian: apt-get install openjdk-17-jre-headless) to keep data in .data/.')"

clean:
	rm -rf $(VENV) $(WHEELS) node_modules .data .pytest_cache dist
