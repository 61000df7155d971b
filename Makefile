# Two commands matter: `make run` (serve on 127.0.0.1:5000) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS ?= dev,faces,train,edge,page,events,scale,tracks

.PHONY: install models run test lint bench fuzz fuzz-schema clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)

# The same config as `make run`, so models land in the [store] home that serving reads.
models: install
	$(BIN)/vigil models pull $(if $(wildcard vigil.toml),--config vigil.toml)

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

# schemathesis against real servers, SCHEMA_EXAMPLES per operation, with an SQLite and a PostgreSQL gallery
# (VIGIL_TEST_POSTGRES, default postgresql://postgres@127.0.0.1:5432/test); the default suite runs 4 on SQLite only.
SCHEMA_EXAMPLES ?= 30
fuzz-schema: models
	VIGIL_SCHEMA_EXAMPLES=$(SCHEMA_EXAMPLES) VIGIL_SCHEMA_BACKENDS=sqlite,postgresql \
	  $(BIN)/pytest tests/serve/test_openapi_fuzz.py -q

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
