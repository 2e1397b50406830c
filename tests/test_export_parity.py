"""The SavedModel works without mtlflow: same outputs in a process that never imports it."""

import json
import subprocess
import sys
import textwrap

import numpy as np

TEXTS = ["w1 beta mred yes up up xa xb w3 town", "gamma w5 w6", "unseen words only here"]

LOADER = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    model = tf.saved_model.load(sys.argv[1])
    fn = model.signatures["serving_default"]
    out = fn(text=tf.constant(json.loads(sys.argv[2])))
    assert not any(m.startswith("mtlflow") for m in sys.modules), "mtlflow was imported"
    print(json.dumps({k: v.numpy().tolist() if v.dtype != tf.string else
                      [[b.decode() for b in row] if v.shape.rank == 2 else row.decode() for row in v.numpy()]
                      for k, v in out.items()}))
    """
)


def test_saved_model_matches_in_process_model(trained_synthetic):
    run, _ = trained_synthetic
    export = run.directory / "export" / "1"
    result = subprocess.run([sys.executable, "-c", LOADER, str(export), json.dumps(TEXTS)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])

    import tensorflow as tf

    local = {k: v.numpy() for k, v in run.inference().serve({"text": tf.constant(TEXTS)}).items()}
    assert set(served) == set(local)
    for key, value in local.items():
        if value.dtype.kind in "SO":
            assert [[x.decode() for x in row] if value.ndim == 2 else row.decode() for row in value] == served[key], key
        else:
            np.testing.assert_allclose(np.asarray(served[key]), value, rtol=1e-5, atol=1e-6, err_msg=key)
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
