"""The OCR models with fused hard-swish compute what the shipped ones compute, and the shared reader uses them."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image, ImageDraw

from capture.mrz_ocr import default_reader
from capture.ocr_fusion import fuse_hard_swish, fused_session


def _plain_session(model_path: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 4
    return ort.InferenceSession(model_path, sess_options=options, providers=["CPUExecutionProvider"])


def _strip_batch() -> np.ndarray:
    """Two MRZ-like strips, normalised as the recogniser's input (48 px tall)."""
    image = Image.new("L", (700, 48), 230)
    ImageDraw.Draw(image).text((10, 8), "IDMEX1234567897<<1234567890123", fill=15, font_size=30)
    pixels = (np.asarray(image, dtype=np.float32) / 255 - 0.5) / 0.5
    one = np.stack([pixels] * 3)[None]
    return np.concatenate([one, one[:, :, :, ::-1]]).astype(np.float32)


def _page() -> np.ndarray:
    image = Image.new("L", (512, 384), 235)
    ImageDraw.Draw(image).text((40, 200), "IDMEX1234567897<<1234567890123", fill=15, font_size=22)
    pixels = (np.asarray(image, dtype=np.float32) / 255 - 0.5) / 0.5
    return np.stack([pixels] * 3)[None].astype(np.float32)


@pytest.fixture(scope="module")
def engine() -> object:
    reader = default_reader()
    reader.load()
    return reader._get()


def test_every_hard_swish_of_both_models_is_fused(engine: object) -> None:
    for session, expected in ((engine.text_rec.session.session, 28), (engine.text_det.infer.session, 24)):  # type: ignore[attr-defined]
        path = _plain_session_path(session)
        model = onnx.load(path)
        before = Counter(node.op_type for node in model.graph.node)
        assert fuse_hard_swish(model) == expected
        after = Counter(node.op_type for node in model.graph.node)
        assert after["HardSigmoid"] - before["HardSigmoid"] == expected
        assert before["Clip"] - after["Clip"] == expected and before["Div"] - after["Div"] == expected
        onnx.checker.check_model(model)


def _plain_session_path(session: ort.InferenceSession) -> str:
    # The reader's sessions are built from bytes; RapidOCR's model files sit beside its package.
    import rapidocr_onnxruntime

    models = rapidocr_onnxruntime.__path__[0] + "/models/"
    outputs = {o.name for o in session.get_outputs()}
    for name in ("ch_PP-OCRv4_rec_infer.onnx", "ch_PP-OCRv4_det_infer.onnx"):
        if {o.name for o in _plain_session(models + name).get_outputs()} == outputs:
            return models + name
    raise AssertionError("unknown model")


def test_the_shared_reader_runs_fused_sessions_that_answer_as_the_shipped_models(engine: object) -> None:
    rec, det = engine.text_rec.session.session, engine.text_det.infer.session  # type: ignore[attr-defined]
    for session, batch in ((rec, _strip_batch()), (det, _page())):
        assert session._model_path is None  # built from the rewritten bytes, not RapidOCR's file
        shipped = _plain_session(_plain_session_path(session))
        name = shipped.get_inputs()[0].name
        expected, got = shipped.run(None, {name: batch})[0], session.run(None, {name: batch})[0]
        assert np.abs(expected - got).max() < 1e-4
        if session is rec:  # the same character at every step of the recogniser
            assert (expected.argmax(-1) == got.argmax(-1)).all()


def test_a_fused_session_is_built_from_a_session_of_the_shipped_model(engine: object) -> None:
    shipped = _plain_session(_plain_session_path(engine.text_rec.session.session))  # type: ignore[attr-defined]
    fused = fused_session(shipped)
    batch = _strip_batch()
    name = shipped.get_inputs()[0].name
    assert np.abs(shipped.run(None, {name: batch})[0] - fused.run(None, {name: batch})[0]).max() < 1e-4
