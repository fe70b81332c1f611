# SPDX-License-Identifier: GPL-2.0
# Thin targets; the logic lives in tools/.  See README.md.
PY      ?= python3
WORK    ?= $(CURDIR)/work
ROWS    ?=
BENCH   ?=
# `make bench BENCH=fault`: the guest's CPUs and QEMU's -accel (empty:
# 2, and kvm when /dev/kvm is usable, else TCG)
VCPUS   ?=
ACCEL   ?=
KERNEL_SRC ?=
export WORK KERNEL_SRC

TREE = $$(cat $(WORK)/tree-path)

.PHONY: all validate setup gen prepare run matrix rows ci-matrix check \
	check-sync checkpatch check-bisect check-bases unit test bench teeth vmtest \
	vmtest-report clean

all: setup prepare run

# Every target that sets up, prepares or builds validates its input first
# (in under a second): through setup or prepare, their first step.  A
# fresh machine may not have python3 yet: setup installs it (as root) or
# prints the apt-get line.
validate:
	@command -v $(PY) >/dev/null 2>&1 || sh tools/setup.sh
	@$(PY) tools/validate.py --rows "$(ROWS)"

setup: validate
	@sh tools/setup.sh

gen:
	@$(PY) tools/kpatch.py gen
	@$(PY) tools/rows.py kunitconfig > .kunitconfig

prepare: validate
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
	@$(PY) -m unittest discover -s tools/tests -t tools -v

test: setup
	@$(PY) tools/testall.py all

bench: setup prepare
	@VCPUS="$(VCPUS)" ACCEL="$(ACCEL)" $(PY) tools/bench.py --tree $(TREE) \
		--rows "$(ROWS)" --part "$(or $(BENCH),all)"

# Weekly, not part of `make test`: every mutant in kunit/mutants/ must
# make its rows fail for the expected reason.
teeth: setup prepare
	@$(PY) tools/teeth.py run --mutants "$(MUTANTS)" --tree $(TREE)

# The kernel's own hugetlb selftests and the writeback end-to-end trace on
# the patched kernel and the unpatched base, side by side (`make test`
# runs the patched half).  Takes the kernel build lock itself.
vmtest: setup prepare
	@$(PY) tools/vmtest.py run --rows "$(ROWS)" --tree $(TREE)

vmtest-report:
	@$(PY) tools/vmtest.py report

clean:
	rm -rf $(WORK) results
