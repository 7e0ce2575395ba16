"""`mediamon enrich` contract: JSON Lines in, one JSON line out per input line."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def run_enrich(stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mediamon.main", "enrich"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_contract_example() -> None:
    proc = run_enrich('{"title":"Переговоры по Сирии пройдут в Астане при участии ООН"}\n')
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["lang"] == "ru"
    assert out["topics"] == ["syria", "astana_process", "un"]
    assert out["text"] == ""


def test_bad_lines_reported_and_processing_continues() -> None:
    lines = [
        '{"id": "a", "url": "https://x.example/1", "content": "<p>UN talks on Syria</p>"}',
        "not json",
        "[1, 2]",
        '{"nothing": "useful"}',
        '{"title": "В Астане открыли новый парк"}',
    ]
    proc = run_enrich("\n".join(lines) + "\n")
    assert proc.returncode == 1
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 5
    assert out[0]["id"] == "a" and out[0]["text"] == "UN talks on Syria"
    assert [o.get("line") for o in out[1:4]] == [2, 3, 4]
    assert all("error" in o for o in out[1:4])
    assert out[4]["lang"] == "ru" and out[4]["topics"] == []
    assert "3 line(s) failed" in proc.stderr


def test_enrich_does_not_import_faust() -> None:
    code = (
        "import sys, mediamon.main, pipeline.stages.enrich;"
        "print('faust' in sys.modules, 'aiokafka' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["False", "False"]


def test_numpy_products_run_on_one_blas_thread_unless_the_operator_says() -> None:
    # the command sets it before any command loads numpy: OpenBLAS's spare threads only
    # spun; importing the stage alone changes no process's environment
    code = (
        "import os, sys, mediamon.main, pipeline.stages.language;"
        "print(os.environ.get('OPENBLAS_NUM_THREADS'));"
        "sys.argv = ['mediamon', '--help'];"
        "sys.stdout = open(os.devnull, 'w');"
        "exec('try: mediamon.main.main()\\nexcept SystemExit: pass');"
        "import numpy; sys.stdout = sys.__stdout__;"
        "print(os.environ.get('OPENBLAS_NUM_THREADS'), len(os.listdir('/proc/self/task')))"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.stdout.split() == ["None", "1", "1"], proc.stderr
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "OPENBLAS_NUM_THREADS": "2"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.split()[:2] == ["2", "2"], proc.stderr
