# Two commands matter: `make run` (serve on 127.0.0.1:5000) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS ?= dev,faces,train,edge,page,events,scale,tracks

.PHONY: install models run test lint bench fuzz clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)

models: install
	$(BIN)/vigil models pull

# Embedded default: SQLite gallery and state in ./data, zerorpc may read frames under ./data/media, 127.0.0.1 only.
run: models
	mkdir -p data/media
	$(BIN)/vigil serve $(if $(wildcard vigil.toml),--config vigil.toml,--media-root data/media)

test: models
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

lint: install
	$(BIN)/ruff check src tests benchmarks

bench: models
	cd benchmarks && ../$(BIN)/python bench_detect.py && ../$(BIN)/python bench_people.py

# Long fuzzing runs (atheris/libFuzzer); FUZZ_SECONDS per target, corpora kept in .fuzz/ between runs.
FUZZ_SECONDS ?= 600
fuzz: install
	for t in images forms; do mkdir -p .fuzz/$$t && PYTHONPATH=src $(BIN)/python tests/fuzz/fuzz_$$t.py \
	  -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -malloc_limit_mb=512 -artifact_prefix=.fuzz/ .fuzz/$$t || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
