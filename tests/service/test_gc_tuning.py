"""The server raises the garbage collector's generation-0 threshold while it runs."""
from __future__ import annotations

import gc

from service.app import tune_gc
from service.settings import Settings


def test_tune_gc_sets_and_restores_the_threshold():
    before = gc.get_threshold()
    restore = tune_gc(50_000)
    try:
        assert gc.get_threshold() == (50_000, *before[1:])
        assert gc.get_freeze_count() > 0
    finally:
        restore()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_gc_gen0_zero_keeps_python_settings():
    before = gc.get_threshold()
    tune_gc(0)()
    assert gc.get_threshold() == before
    assert Settings.from_env({"AADRISK_GC_GEN0": "0"}).gc_gen0 == 0
    assert Settings().gc_gen0 == 50_000


def test_app_import_pauses_the_collector_and_freezes_its_objects():
    """service.app is imported without collector scans (service.startup_gc): afterwards the
    collector is enabled again and the imported objects are frozen."""
    import subprocess
    import sys

    code = ("import gc, service.app; "
            "print(gc.isenabled(), gc.get_freeze_count() > 100_000)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=300).stdout.strip()
    assert out == "True True"
