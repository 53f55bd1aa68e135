# lxcpy: `make demo` runs examples/quickstart.py, `make test` runs the test
# suite. Both work as root on a fresh Debian 12 machine: they install the
# system packages that are missing, build lxcpy into .venv, then run.

PYTHON ?= python3
VENV ?= .venv
# Build: a C compiler, Python headers and venv, liblxc's headers, pkg-config.
# Run: LXC, its templates, busybox for the busybox template, rsync for
# snapshots of directory-backed containers, iproute2 for the network tests,
# uidmap for user-namespaced containers, criu for checkpoint/restore.
PACKAGES = gcc libc6-dev pkg-config python3-dev python3-venv \
	lxc lxc-dev lxc-templates busybox-static rsync iproute2 uidmap criu

.PHONY: demo test test-vm deps install lint bench packages clean

packages:
	@echo $(PACKAGES)

deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' \
	    || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi
	@# With uidmap installed, liblxc maps ids for root only from root's
	@# subordinate ranges: give root one if it has none.
	@grep -q '^root:' /etc/subuid 2>/dev/null || echo 'root:100000:65536' >> /etc/subuid
	@grep -q '^root:' /etc/subgid 2>/dev/null || echo 'root:100000:65536' >> /etc/subgid

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

install: deps $(VENV)/bin/python
	$(VENV)/bin/pip install -q ".[test]"

demo: install
	$(VENV)/bin/python examples/quickstart.py

# Twice: with lxcpy's helper process (the default) and without it, since
# public behaviour must be the same both ways.
test: install
	LXCPY_HELPER=1 $(VENV)/bin/pytest -q -p no:cacheprovider tests
	LXCPY_HELPER=0 $(VENV)/bin/pytest -q -p no:cacheprovider tests

# The suite, both modes, in a Debian 12 VM with cgroup v2, AppArmor and
# systemd (../shared/tools/vm/: software emulation, ~70 minutes; too slow
# for CI). VM_CMD narrows it, e.g. VM_CMD='make install && .venv/bin/pytest -q tests/test_cgroup.py'.
VM ?= ../shared/tools/vm/vm.sh
VM_CMD ?= make test
test-vm:
	VM_PACKAGES="$(PACKAGES)" VM_TIMEOUT=$${VM_TIMEOUT:-4800} $(VM) . '$(VM_CMD)'

lint: install
	$(VENV)/bin/pip install -q ruff mypy
	$(VENV)/bin/ruff check lxcpy tests examples benchmarks
	$(VENV)/bin/mypy --strict lxcpy

bench: install
	$(VENV)/bin/python benchmarks/bench_attach.py
	$(VENV)/bin/python benchmarks/bench_run_heap.py
	$(VENV)/bin/python benchmarks/bench_helper.py

clean:
	rm -rf $(VENV) build *.egg-info lxcpy/_lxc*.so lxcpy/lxcpy-helper
