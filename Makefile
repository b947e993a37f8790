# mmmedssl: `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.install-stamp
DEMO_CONFIG := configs/mocov2/mocov2_resnet18_1xb32-coslr-40e_demo.py
DEMO_WORK_DIR := work_dirs/demo
PYTEST_ARGS ?=
# Test processes (pytest-xdist); 0 runs the suite in this one.
PYTEST_WORKERS ?= 2

.PHONY: install test demo demo-data demo-distillingself clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstalls only when setup.py or a requirements file changed.
$(STAMP): $(PY) setup.py requirements/runtime.txt requirements/tests.txt requirements/build.txt requirements/mim.txt
	$(PY) -m pip install -q -r requirements/build.txt
	$(PY) -m pip install -q -r requirements/runtime.txt -r requirements/tests.txt
	$(PY) -m pip install -q --no-deps -r requirements/mim.txt
	$(PY) -m pip install -q --no-build-isolation --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# mmengine imports yapf, which caches its grammar on first import and
# renames the cache file into place before flushing it: pytest workers
# starting together on a fresh install can read it half-written (EOFError).
# One import first writes it whole.
test: $(STAMP)
	$(PY) -c "import yapf"
	$(PY) -m pytest -n $(PYTEST_WORKERS) tests $(PYTEST_ARGS)

demo-data: $(STAMP)
	$(PY) tools/dataset_converters/make_demo_data.py --out data/demo_derm

# Pretrains MoCo v2 on the demo set (resuming if a run was interrupted),
# then prints kNN accuracy: pretrained backbone vs the same at random init.
demo: demo-data
	$(PY) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR) --resume
	$(PY) tools/analysis_tools/knn_eval.py $(DEMO_CONFIG) \
		$(DEMO_WORK_DIR)/last_checkpoint --work-dir $(DEMO_WORK_DIR)/knn_eval \
		--out $(DEMO_WORK_DIR)/knn_eval.json

DS_TEACHER := configs/distillingself/distillingself-teacher_resnet18_1xb32-coslr-20e_demo.py
DS_STUDENT := configs/distillingself/distillingself_resnet18_1xb32-coslr-20e_demo.py
DS_PUBLIC := work_dirs/demo_public/resnet18_demo-derm.pth
DS_MOCO := configs/mocov2/mocov2_resnet18_1xb32-coslr-20e_demo-surgical.py
DS_KNN := work_dirs/demo_distillingself_knn

data/demo_surgical/frames/.complete: $(STAMP)
	$(PY) tools/dataset_converters/make_demo_surgical_videos.py --out data/demo_surgical \
		--num-videos 16 --seconds 30 40
	$(PY) tools/dataset_converters/extract_frames.py data/demo_surgical/videos \
		--out data/demo_surgical/frames --fps 1 --size 40 40
	touch $@

# DistillingSelf end to end on synthetic surgical videos. The "public generic
# model" is the MoCo v2 ResNet-18 of `make demo` (dermatology demo set),
# exported to a torchvision-format file; stage A adapts it (frozen backbone),
# stage B distils it into a fresh student; MoCo v2 alone on the same frames
# is the baseline. Prints kNN phase accuracy on the validation videos of
# each backbone beside random init.
demo-distillingself: demo data/demo_surgical/frames/.complete
	$(PY) tools/model_converters/mmmedssl_to_torchvision.py \
		$$(cat $(DEMO_WORK_DIR)/last_checkpoint) $(DS_PUBLIC)
	$(PY) tools/train.py $(DS_TEACHER) --resume
	$(PY) tools/train.py $(DS_STUDENT) --resume
	$(PY) tools/train.py $(DS_MOCO) --resume
	for cfg in $(DS_TEACHER) $(DS_MOCO) $(DS_STUDENT); do \
		name=$$(basename $$cfg .py); \
		$(PY) tools/analysis_tools/knn_eval.py $$cfg \
			work_dirs/$$name/last_checkpoint --work-dir $(DS_KNN) \
			--out $(DS_KNN)/$$name.json || exit 1; \
	done

clean:
	rm -rf $(VENV) work_dirs data/demo_derm data/demo_surgical mmmedssl/.mim *.egg-info
