"""The SavedModel works without mtlflow: same outputs in a process that never imports it."""

import subprocess

from export_parity import assert_same_outputs, in_process_outputs, serve_in_fresh_process

TEXTS = ["w1 beta mred yes up up xa xb w3 town", "gamma w5 w6", "unseen words only here"]


def test_saved_model_matches_in_process_model(trained_synthetic):
    run, _ = trained_synthetic
    served = serve_in_fresh_process(run.directory / "export" / "1", TEXTS)
    assert_same_outputs(served, in_process_outputs(run, TEXTS))
    assert served["topic_label"][0] == "beta"
    assert served["tags_span_texts"][0][:2] == ["xa xb", "town"]


def test_saved_model_cli_lists_the_signature(trained_synthetic):
    run, _ = trained_synthetic
    result = subprocess.run(["saved_model_cli", "show", "--dir", str(run.directory / "export" / "1"),
                             "--tag_set", "serve", "--signature_def", "serving_default"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "inputs['text']" in result.stdout
    for output in ("topic_probabilities", "colors_labels", "flag_probability", "score_value", "tags_span_texts"):
        assert output in result.stdout
