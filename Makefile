# SPDX-License-Identifier: GPL-2.0
# Thin targets; the logic lives in tools/.  See README.md.
PY      ?= python3
WORK    ?= $(CURDIR)/work
ROWS    ?=
KERNEL_SRC ?=
export WORK KERNEL_SRC

TREE = $$(cat $(WORK)/tree-path)

.PHONY: all setup gen prepare run matrix rows ci-matrix check check-sync \
	checkpatch check-bisect check-bases unit test bench clean

all: setup prepare run

setup:
	@sh tools/setup.sh

gen:
	@$(PY) tools/kpatch.py gen
	@$(PY) tools/rows.py kunitconfig > .kunitconfig

prepare:
	@mkdir -p $(WORK)
	@$(PY) tools/kpatch.py prepare > $(WORK)/tree-path.new
	@mv $(WORK)/tree-path.new $(WORK)/tree-path

run: prepare
	@$(PY) tools/matrix.py run --default --tree $(TREE)

matrix: setup prepare
	@$(PY) tools/matrix.py run --rows "$(ROWS)" --tree $(TREE)

rows:
	@$(PY) tools/rows.py list

ci-matrix:
	@$(PY) tools/rows.py ci

check: setup
	@$(PY) tools/testall.py check

check-bisect: setup
	@$(PY) tools/check_bisect.py --rows "$(ROWS)"

check-bases: setup
	@$(PY) tools/check_bases.py

unit:
	@$(PY) -m unittest discover -s tools/tests -t . -v

test: setup
	@$(PY) tools/testall.py all

bench: setup prepare
	@$(PY) tools/bench.py --tree $(TREE)

clean:
	rm -rf $(WORK) results
