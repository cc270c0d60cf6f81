PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-test

.PHONY: demo test test-deep mutation bench docs clean

# One stamp per extra: .venv/.installed-test, -examples, -docs (reinstalled when pyproject changes)
$(VENV)/.installed-%: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$*]"
	touch $@

demo: $(VENV)/.installed-examples
	$(PY) examples/reproduce_seeds.py

# make test: derandomized hypothesis ("ci" profile), the same examples on every run. The kernel
# tests run three ways: pure Python (NUMBA_DISABLE_JIT; with the kernel kill tests, some of
# which watch the kernels' Python calls), compiled with Numba's bounds checking
# (an index past an array raises IndexError and fails a test instead of corrupting memory; its
# own cache folder, since Numba's cache does not key on that flag), and compiled as shipped.
# Every run shuffles the test order (pytest-randomly) with TEST_SEED, printed first: a test that
# depends on another one having run fails, and `make test TEST_SEED=n` replays an order.
TEST_SEED ?= 12345
RANDOM_ORDER = -p randomly --randomly-seed=$(TEST_SEED)

test: $(STAMP)
	@echo "make test: test order shuffled by pytest-randomly with --randomly-seed=$(TEST_SEED)"
	HYPOTHESIS_PROFILE=ci NUMBA_DISABLE_JIT=1 $(PY) -m pytest -q -p no:cacheprovider $(RANDOM_ORDER) tests/test_kernels.py tests/test_kills_kernels_math.py tests/test_kills_kernels_conv.py
	HYPOTHESIS_PROFILE=ci NUMBA_BOUNDSCHECK=1 NUMBA_CACHE_DIR=$(VENV)/numba-boundscheck-cache $(PY) -m pytest -q -p no:cacheprovider $(RANDOM_ORDER) tests/test_kernels.py
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest -q -p no:cacheprovider $(RANDOM_ORDER)

# make test-deep: every property test (hypothesis's "hypothesis" marker) with ten times the
# examples, randomised: a larger search than CI's, with new inputs on each run. Long; not CI.
test-deep: $(STAMP)
	HYPOTHESIS_PROFILE=deep $(PY) -m pytest -q -p no:cacheprovider -m hypothesis

# make mutation: mutmut 2.5's mutants of ops/, tensor.py, autograd.py, optim/, training.py, nn/ and
# kernels/ (kernels under NUMBA_DISABLE_JIT=1), each run against the tests of its module's test
# files that execute its lines (one coverage pass), in children forked from a pytest session that
# collected the tests once, the mutant applied in memory (tools/mutation.py, docs/mutation.md).
# Prints the kill rate per module; survivors in docs/mutation-survivors.md; results cached in
# .mutation/. MODULES="a.py b.py" runs a subset, MUTATION_JOBS=n sets the workers (default 2).
MUTATION_JOBS ?= 2
mutation: $(STAMP) $(VENV)/.installed-mutation
	$(PY) tools/mutation.py --jobs $(MUTATION_JOBS) $(MODULES)

# make bench: every benchmark, in under 3 minutes on an idle 2-core machine. Two run shortened:
# bench_custom trains its two CNNs for 5 of the example's 15 epochs (the full comparison, about
# a minute more: python benchmarks/bench_custom.py) and bench_random_features takes the best of
# 3 runs instead of 7. Every other script runs as it does alone.
BENCH_ARGS_custom = --epochs 5
BENCH_ARGS_random_features = --repeat 3

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do \
	  case $$b in \
	    *bench_custom.py) args="$(BENCH_ARGS_custom)" ;; \
	    *bench_random_features.py) args="$(BENCH_ARGS_random_features)" ;; \
	    *) args="" ;; \
	  esac; \
	  $(PY) $$b $$args || exit 1; \
	done

# make docs: the HTML API reference in docs/_build/html; any Sphinx warning fails the build.
docs: $(VENV)/.installed-docs
	rm -rf docs/_build
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html

clean:
	rm -rf $(VENV) build *.egg-info docs/_build .mutmut-cache .mutation
