"""A Piper voice small enough to write in a test: a real ONNX model with the inputs and output of Piper's VITS voices
(``input``, ``input_lengths``, ``scales`` -> ``output`` [1, 1, 1, samples]) and a real ``.onnx.json`` beside it.

It does not speak: it answers a 220 Hz tone of ``hop_length`` samples per phoneme id, times the length scale, so a
test can tell from the audio's duration that Piper phonemized the text, ran the model and honoured the speed."""

from __future__ import annotations

import json
import math
from pathlib import Path

SAMPLE_RATE = 22050
HOP = 256


def write_voice(folder: Path, name: str, *, espeak_voice: str = "en-us") -> Path:
    """``<folder>/<name>.onnx`` and ``<name>.onnx.json``; needs the onnx package (tests only) and piper-tts."""
    import onnx
    from onnx import TensorProto, helper
    from piper.phoneme_ids import DEFAULT_PHONEME_ID_MAP

    def const(name: str, value: object, kind: int = TensorProto.FLOAT) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, kind, [], [value]))

    nodes = [
        helper.make_node("Shape", ["input"], ["shape"]),
        const("one_i", 1, TensorProto.INT64),
        const("zero_i", 0, TensorProto.INT64),
        helper.make_node("Gather", ["shape", "one_i"], ["ids"], axis=0),
        helper.make_node("Gather", ["scales", "one_i"], ["length_scale"], axis=0),
        helper.make_node("Cast", ["ids"], ["ids_f"], to=TensorProto.FLOAT),
        const("hop", float(HOP)),
        helper.make_node("Mul", ["ids_f", "hop"], ["frames_f"]),
        helper.make_node("Mul", ["frames_f", "length_scale"], ["samples_f"]),
        helper.make_node("Cast", ["samples_f"], ["samples"], to=TensorProto.INT64),
        helper.make_node("Range", ["zero_i", "samples", "one_i"], ["t_i"]),
        helper.make_node("Cast", ["t_i"], ["t"], to=TensorProto.FLOAT),
        const("omega", 2 * math.pi * 220.0 / SAMPLE_RATE),
        helper.make_node("Mul", ["t", "omega"], ["phase"]),
        helper.make_node("Sin", ["phase"], ["wave"]),
        const("gain", 0.3),
        helper.make_node("Mul", ["wave", "gain"], ["quiet"]),
        helper.make_node(
            "Constant", [], ["out_shape"], value=helper.make_tensor("out_shape", TensorProto.INT64, [4], [1, 1, 1, -1])
        ),
        helper.make_node("Reshape", ["quiet", "out_shape"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tone",
        [
            helper.make_tensor_value_info("input", TensorProto.INT64, [1, "phonemes"]),
            helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
            helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3]),
        ],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, 1, "samples"])],
    )
    # Opset 13 and IR 7: what onnxruntime of any supported age reads.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=7)
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.onnx"
    onnx.save(model, str(path))
    config = {
        "audio": {"sample_rate": SAMPLE_RATE, "quality": "x_low"},
        "espeak": {"voice": espeak_voice},
        "language": {"code": name.split("-")[0]},
        "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8},
        "phoneme_type": "espeak",
        "phoneme_id_map": DEFAULT_PHONEME_ID_MAP,
        "num_symbols": 1 + max(i for ids in DEFAULT_PHONEME_ID_MAP.values() for i in ids),
        "num_speakers": 1,
        "speaker_id_map": {},
        "piper_version": "1.0.0",
    }
    path.with_name(path.name + ".json").write_text(json.dumps(config, ensure_ascii=False, indent=1), encoding="utf-8")
    return path
