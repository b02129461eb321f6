# The habits of this project. Every target creates its own virtual environment on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_STORE ?= demo-store
BENCH_MB ?= 300

.PHONY: venv demo test lint bench bench-ray coverage clean

# The package's bytecode is written at once, as a wheel's install writes it: an editable install would otherwise
# compile every module of the package in every process where PYTHONDONTWRITEBYTECODE is set (0.05-0.1 CPU-s a
# command, in the worker server too).
$(STAMP): pyproject.toml setup.py cotlens/measure/_repetition.c cotlens/_resample.c
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m compileall -q cotlens
	touch $(STAMP)

venv: $(STAMP)

## demo: ingest the shipped demo corpus into ./demo-store, show what it holds, the o3-style dialect rates,
## language mixing with examples, repetition loops, orion-3's over-used words, the clean-data filter's summary,
## the demo models compared with orion-3, and the HTML report of it all (its path printed last)
demo: $(STAMP)
	rm -rf $(DEMO_STORE)
	$(VENV)/bin/cotlens ingest fixtures/demo/*.jsonl --store $(DEMO_STORE)
	$(VENV)/bin/cotlens models --store $(DEMO_STORE)
	$(VENV)/bin/cotlens rates --store $(DEMO_STORE) --lexicon o3-dialect
	$(VENV)/bin/cotlens langmix --store $(DEMO_STORE) --scripts --examples 2
	$(VENV)/bin/cotlens loops --store $(DEMO_STORE) lumen-mix
	$(VENV)/bin/cotlens keywords --store $(DEMO_STORE) orion-3 --top 10
	$(VENV)/bin/cotlens filter --store $(DEMO_STORE) --dry-run --ignore-script Greek --where 'not truncated' \
	  --where 'not loop' --where 'codeswitch_spans == 0' --where 'dominant_script == Latin'
	$(VENV)/bin/cotlens compare --store $(DEMO_STORE) orion-3 lumen-mix plain-7b
	$(VENV)/bin/cotlens report --store $(DEMO_STORE) --baseline orion-3 --out $(DEMO_STORE)/report.html

## test: the test suite (what CI runs)
test: $(STAMP)
	$(PY) -m pytest

## lint: ruff and mypy (strict) on the package
lint: $(STAMP)
	$(VENV)/bin/ruff check cotlens tests bench
	$(VENV)/bin/ruff format --check cotlens tests bench
	$(VENV)/bin/mypy

## bench: throughput against baselines measured in the same run (BENCH_MB of synthetic input)
bench: $(STAMP)
	$(PY) bench/bench_ingest.py --size-mb $(BENCH_MB)
	$(PY) bench/bench_measure.py --size-mb $(BENCH_MB)
	$(PY) bench/bench_repetition.py --size-mb $(BENCH_MB)
	$(PY) bench/bench_rates.py --size-mb $(BENCH_MB)
	$(PY) bench/bench_analyses.py --size-mb $(BENCH_MB)
	$(PY) bench/bench_filter.py --size-mb $(BENCH_MB)
	$(PY) bench/bench_report.py --size-mb $(BENCH_MB)

## bench-ray: the Ray engine (1 and 2 workers) against the local one; small by default on a shared machine
RAY_BENCH_MB ?= 50
bench-ray: $(STAMP)
	$(PY) bench/bench_ray.py --size-mb $(RAY_BENCH_MB)

## coverage: how often the 95% rate intervals hold a known rate, by generating process and group size, with the
## misses on each side (synthetic groups, the library called directly; the table in the README; ~20 min)
coverage: $(STAMP)
	$(PY) bench/coverage.py

clean:
	rm -rf $(VENV) $(DEMO_STORE) bench-data .pytest_cache .mypy_cache .ruff_cache
