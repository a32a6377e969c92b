# dreamcut — the README's two commands: `make demo` and `make test`.
# Everything installs into ./.venv with pip; nothing relies on anything installed by hand.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
DEMO_DIR ?= demo-project
PYTEST_ARGS ?=
# `make test` runs the suite on this many pytest-xdist workers (worksteal: an idle worker takes
# queued tests from a busy one); TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2

.PHONY: demo test bench install install-test chromium fluidsynth clean help

help:
	@echo "make demo   - install into .venv and run 'dreamcut demo $(DEMO_DIR)' (shot list + song -> 2K video + exports)"
	@echo "make test   - install test dependencies (and Debian chromium) and run pytest"
	@echo "make bench  - run the benchmarks in benchmarks/ and print their tables"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel

$(VENV)/.base-installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	@# One OpenCV (README "One OpenCV"): a venv from before may still hold the headless build.
	if $(BIN)/python -m pip show -q opencv-python-headless >/dev/null 2>&1; then \
	  $(PIP) uninstall -y opencv-python-headless && $(PIP) install --force-reinstall --no-deps "opencv-python>=4.9"; fi
	@# opencv-python (not headless) loads libGL and glib at import: Debian's libgl1 and libglib2.0-0.
	@$(BIN)/python -c "import cv2" >/dev/null 2>&1 || { \
	  echo "installing Debian libgl1 + libglib2.0-0 for OpenCV"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgl1 libglib2.0-0 >/dev/null; }
	@# The program overlay's fonts: Noto Sans CJK (letters, accents, CJK) and Symbola (emoji outlines).
	@{ test -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc && \
	   test -f /usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf; } || { \
	  echo "installing Debian fonts-noto-cjk + fonts-symbola for the program overlay"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk fonts-symbola >/dev/null) \
	  || echo "warning: could not install the overlay fonts; emoji will draw as boxes"; }
	@touch $@

# torch is pinned in the `local` extra (2.13.0: the CPU wheel on this machine's disk).
$(VENV)/.test-installed: pyproject.toml $(VENV)/.base-installed
	$(PIP) install -e ".[test,local,cloud,ray,search,web-test,bench]"
	@touch $@

install: $(VENV)/.base-installed
install-test: $(VENV)/.test-installed

# Browser tests drive Debian's chromium through Playwright (no browser download).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: could not install chromium; browser tests will be skipped"; }

# Song-analysis tests render public-domain scores with Debian's fluidsynth + FluidR3 GM soundfont;
# fonts-noto-cjk (OFL) gives the program overlay and take labels CJK (DejaVu covers Latin otherwise).
fluidsynth:
	@{ command -v fluidsynth >/dev/null 2>&1 && test -f /usr/share/sounds/sf2/FluidR3_GM.sf2; } || { \
	  echo "installing Debian fluidsynth + fluid-soundfont-gm for the song-analysis tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fluidsynth fluid-soundfont-gm fonts-noto-cjk >/dev/null) \
	  || echo "warning: could not install fluidsynth; the recordings tests will be skipped"; }

demo: install
	$(BIN)/dreamcut demo $(DEMO_DIR)

test: install-test chromium fluidsynth
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

bench: install-test
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache test-artifacts bench-results
