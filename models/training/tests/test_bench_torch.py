"""bench_torch.py: the studio's chunks, as many per run as `--batch` windows hold."""

from conftest import REPO

import bench_torch
from merit.export import TRAJECTORY_WINDOW_S, load_onnx_model


class CountingRuns:
    """The model, counting its runs and the chunks each run gets."""

    def __init__(self, model):
        self.model, self.runs = model, []

    def trajectory_window_frames(self, seconds):
        return self.model.trajectory_window_frames(seconds)

    def __call__(self, batch, trajectory_window):
        self.runs.append(batch.shape[0])
        return self.model(batch, trajectory_window=trajectory_window)


def test_chunks_overlap_by_the_trajectory_window_and_the_batch_sets_the_runs():
    model = CountingRuns(load_onnx_model(REPO / "models/sparse-merit-tiny.onnx")[0].eval())
    signal = bench_torch.speech_like(30)
    chunk_s = 6.0
    step = chunk_s - TRAJECTORY_WINDOW_S
    # 30 s in 6 s chunks stepping 3 s: starts 0, 3, ..., 24 (the last chunk ends at 30 s).
    assert bench_torch.analyse(model, signal, chunk_s, batch_windows=4) == int((30 - chunk_s) / step) + 1 == 9
    # 4 windows of 3 s hold two 6 s chunks per run.
    assert model.runs == [2, 2, 2, 2, 1]
    model.runs.clear()
    bench_torch.analyse(model, signal, chunk_s, batch_windows=100)
    assert model.runs == [9]
