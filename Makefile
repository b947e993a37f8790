# mmmedssl: `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.install-stamp
DEMO_CONFIG := configs/mocov2/mocov2_resnet18_1xb32-coslr-40e_demo.py
DEMO_WORK_DIR := work_dirs/demo
PYTEST_ARGS ?=

.PHONY: install test demo demo-data clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstalls only when setup.py or a requirements file changed.
$(STAMP): $(PY) setup.py requirements/runtime.txt requirements/tests.txt requirements/build.txt
	$(PY) -m pip install -q -r requirements/build.txt
	$(PY) -m pip install -q -r requirements/runtime.txt -r requirements/tests.txt
	$(PY) -m pip install -q --no-build-isolation --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest tests $(PYTEST_ARGS)

demo-data: $(STAMP)
	$(PY) tools/dataset_converters/make_demo_data.py --out data/demo_derm

# Pretrains MoCo v2 on the demo set (resuming if a run was interrupted),
# then prints kNN accuracy: pretrained backbone vs the same at random init.
demo: demo-data
	$(PY) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR) --resume
	$(PY) tools/analysis_tools/knn_eval.py $(DEMO_CONFIG) \
		$(DEMO_WORK_DIR)/last_checkpoint --work-dir $(DEMO_WORK_DIR)/knn_eval \
		--out $(DEMO_WORK_DIR)/knn_eval.json

clean:
	rm -rf $(VENV) work_dirs data/demo_derm mmmedssl/.mim *.egg-info
