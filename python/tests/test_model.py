"""rnnattn.Model (the Keras-like API) and rnnattn.data against the library and its CLI."""

import json
import threading
import time

import numpy as np
import pytest
import rnnattn


@pytest.fixture(scope="module")
def fib():
    return rnnattn.data.fibonacci(steps=20)


def test_fibonacci_data_is_the_tutorials(fib):
    assert fib.x_train.shape == (826, 20, 1) and fib.x_test.shape == (354, 20, 1)
    assert fib.y_train.shape == (826, 1) and fib.x_train.dtype == np.float32
    assert fib.lengths_train is None and fib.source == "fib"
    # Windows are consecutive values of one scaled series: y is the value after x's last one.
    seq = {int(i): v for i, v in zip(fib.index_train, fib.x_train[:, 0, 0])}
    for i, y in zip(fib.index_train[:50], fib.y_train[:50, 0]):
        if int(i) + 20 in seq:
            assert seq[int(i) + 20] == y


def test_fit_matches_the_cli_bit_for_bit(fib, cli, tmp_path):
    # The CLI's run (seed 3, 2 epochs, batch 1) and the Python one draw the same initial weights
    # and shuffles: the same parameters, every bit.
    cli(
        "train",
        "--data",
        "fib",
        "--epochs",
        2,
        "--seed",
        3,
        "--device",
        "cpu",
        "--save",
        tmp_path / "cli.bin",
        cwd=tmp_path,
    )
    m = rnnattn.Model(hidden=2, seed=3)
    h = m.fit(fib.x_train, fib.y_train, epochs=2, batch_size=1)
    assert len(h.history["loss"]) == 2 and h.epoch == [0, 1]
    loaded = rnnattn.load(tmp_path / "cli.bin")
    assert loaded.epochs_trained == 2 == m.epochs_trained
    np.testing.assert_array_equal(loaded.params, m.params)


def test_two_fits_continue_as_one(fib):
    a = rnnattn.Model(hidden=3, seed=5)
    a.fit(fib.x_train, fib.y_train, epochs=2, batch_size=16)
    a.fit(fib.x_train, fib.y_train, epochs=1, batch_size=16)
    b = rnnattn.Model(hidden=3, seed=5)
    hb = b.fit(fib.x_train, fib.y_train, epochs=3, batch_size=16)
    np.testing.assert_array_equal(a.params, b.params)
    assert len(hb.history["loss"]) == 3
    # Another seed: other weights (the test can fail).
    c = rnnattn.Model(hidden=3, seed=6)
    c.fit(fib.x_train, fib.y_train, epochs=3, batch_size=16)
    assert not np.array_equal(c.params, b.params)


def test_save_load_predict_and_resume(fib, tmp_path):
    m = rnnattn.Model(hidden=4, seed=2)
    m.fit(fib.x_train, fib.y_train, epochs=2, batch_size=32)
    m.save(tmp_path / "m.bin")
    r = rnnattn.load(tmp_path / "m.bin")
    np.testing.assert_array_equal(r.predict(fib.x_test), m.predict(fib.x_test))
    # Resumed training (Adam state and shuffle stream restored) equals uninterrupted training.
    r.fit(fib.x_train, fib.y_train, epochs=2, batch_size=32)
    m.fit(fib.x_train, fib.y_train, epochs=2, batch_size=32)
    np.testing.assert_array_equal(r.params, m.params)


def test_python_checkpoint_reads_in_the_cli(fib, cli, tmp_path):
    m = rnnattn.Model(hidden=2, seed=4)
    m.fit(fib.x_train, fib.y_train, epochs=1, batch_size=8)
    m.save(tmp_path / "py.bin", data=fib)
    cli(
        "predict",
        "--model",
        tmp_path / "py.bin",
        "--data",
        "fib",
        "--device",
        "cpu",
        "--json",
        tmp_path / "p.json",
        cwd=tmp_path,
    )
    report = json.loads((tmp_path / "p.json").read_text())
    assert report["test_mse"] == pytest.approx(m.evaluate(fib.x_test, fib.y_test), rel=1e-6)
    starts = [p["start"] for p in report["predictions"]]
    np.testing.assert_array_equal(starts, fib.index_test)


def test_attention_weights_and_lengths(rng):
    n, t, d = 9, 7, 3
    x = rng.standard_normal((n, t, d)).astype(np.float32)
    y = rng.uniform(-0.5, 0.5, (n, 2)).astype(np.float32)
    lengths = rng.integers(1, t + 1, n)
    m = rnnattn.Model(
        hidden=5, cell="gru", layers=2, bidirectional=True, seed=int(rng.integers(100))
    )
    m.fit(x, y, epochs=2, batch_size=4, lengths=lengths)
    pred, att = m.predict(x, lengths=lengths, return_attention=True)
    assert pred.shape == (n, 2) and att.shape == (n, t)
    np.testing.assert_allclose(att.sum(axis=1), 1.0, rtol=1e-5)
    for i in range(n):
        assert np.all(att[i, lengths[i] :] == 0) and np.all(att[i, : lengths[i]] > 0)
    # Padding is ignored: changing x past each length changes nothing.
    x2 = x.copy()
    for i in range(n):
        x2[i, lengths[i] :] = rng.standard_normal((t - lengths[i], d))
    np.testing.assert_array_equal(m.predict(x2, lengths=lengths), pred)


def test_validation_and_early_stopping(rng):
    ds = rnnattn.data.sentiment(train=120, test=40, dim=8, min_length=8, max_length=12, seed=3)
    assert ds.lengths_train.shape == (120,) and ds.x_train.shape == (120, 12, 8)
    m = rnnattn.Model(hidden=6, loss="bce", seed=1)
    h = m.fit(
        ds.x_train,
        ds.y_train,
        lengths=ds.lengths_train,
        epochs=4,
        batch_size=16,
        validation_split=0.25,
        early_stopping=1,
    )
    assert len(h.history["val_loss"]) == len(h.history["loss"]) == len(h.history["val_accuracy"])
    assert 1 <= h.best_epoch <= len(h.history["loss"])
    assert m.epochs_trained == h.best_epoch
    assert m.config.head == "sigmoid"
    h2 = m.fit(
        ds.x_train,
        ds.y_train,
        lengths=ds.lengths_train,
        epochs=1,
        validation_data=(ds.x_test, ds.y_test, ds.lengths_test),
    )
    assert len(h2.history["val_loss"]) == 1


def test_inputs_are_checked_by_name(fib):
    m = rnnattn.Model(hidden=2)
    with pytest.raises(ValueError, match=r"x: expected a 3-d array.*reshape"):
        m.fit(fib.x_train[:, :, 0], fib.y_train)
    with pytest.raises(TypeError, match="x: expected real numbers"):
        m.predict(np.zeros((2, 20, 1), dtype=complex))
    with pytest.raises(ValueError, match=r"y: expected shape \[826\]"):
        m.fit(fib.x_train, fib.y_train[:-1])
    m.build(20)
    with pytest.raises(ValueError, match=r"x: shape \(3, 21, 1\), but the model was built for"):
        m.predict(np.zeros((3, 21, 1)))
    with pytest.raises(ValueError, match=r"lengths: each length must be in \[1, 20\]"):
        m.predict(fib.x_test[:2], lengths=[0, 3])
    with pytest.raises(ValueError, match="return_attention"):
        rnnattn.Model(attention=False).predict(fib.x_test[:2], return_attention=True)
    with pytest.raises(ValueError, match="device"):
        rnnattn.Model(device="tpu")
    with pytest.raises(ValueError, match="cell"):
        rnnattn.Model(cell="transformer")
    # The library's own checks arrive as ValueError too, with its message.
    with pytest.raises(ValueError, match="batch size must be >= 1"):
        m.fit(fib.x_train, fib.y_train, batch_size=0)


def test_non_finite_inputs_are_refused_by_index(fib):
    m = rnnattn.Model(hidden=2, seed=1)
    x, y = fib.x_train.copy(), fib.y_train.copy()
    x[5, 3, 0] = np.nan
    with pytest.raises(ValueError, match=r"x: nan at index \[5, 3, 0\]"):
        m.fit(x, y, epochs=1)
    y[7] = np.inf
    with pytest.raises(ValueError, match=r"y: inf at index \[7, 0\]"):
        m.fit(fib.x_train, y, epochs=1)
    m.build(20)
    big = fib.x_test.astype(np.float64)
    big[0, 0, 0] = 1e300  # finite as float64, infinite as float32
    with pytest.raises(ValueError, match=r"x: inf at index \[0, 0, 0\] \(as float32\)"):
        m.predict(big)


def test_fit_refuses_what_would_train_nothing_or_nonsense(rng):
    x = rng.random((10, 5, 1)).astype(np.float32)
    y = rng.random(10).astype(np.float32)
    m = rnnattn.Model(hidden=2)
    with pytest.raises(ValueError, match=r"validation_split: 0.999 of 10 samples leaves no sample"):
        m.fit(x, y, validation_split=0.999)
    m.fit(x, y, validation_split=0.5)  # 5 and 5
    with pytest.raises(TypeError, match=r"batch_size: expected an integer, got 1.5"):
        m.fit(x, y, batch_size=1.5)
    with pytest.raises(TypeError, match=r"epochs: expected an integer"):
        m.fit(x, y, epochs=2.0)
    m.fit(x, y, epochs=np.int64(1), batch_size=np.int32(4))
    b = rnnattn.Model(hidden=2, loss="bce")
    labels = (y > 0.5).astype(np.float32)
    b.fit(x, labels)
    bad = labels.copy()
    bad[3] = 5.0
    with pytest.raises(ValueError, match=r"y: 5.0 at index \[3, 0\]; loss='bce' trains on labels 0"):
        b.fit(x, bad)
    with pytest.raises(ValueError, match=r"y: 5.0 at index \[3, 0\]"):
        b.evaluate(x, bad)
    with pytest.raises(ValueError, match=r"validation_data\[1\]: 5.0 at index \[3, 0\]"):
        b.fit(x, labels, validation_data=(x, bad))


def test_save_failures_are_checkpoint_errors(tmp_path):
    m = rnnattn.Model(hidden=2).build(5)
    missing = tmp_path / "no such folder" / "m.bin"
    with pytest.raises(rnnattn.CheckpointError, match=r"m\.bin': cannot create a file in its folder"):
        m.save(missing)
    assert not missing.parent.exists()


def test_float64_input_is_converted(fib):
    m = rnnattn.Model(hidden=2, seed=9)
    m.build(20)
    np.testing.assert_array_equal(m.predict(fib.x_test.astype(np.float64)), m.predict(fib.x_test))
    # float16 and booleans too, as docs/python.md says (exactly: both are float32 values).
    half = fib.x_test[:4].astype(np.float16)
    np.testing.assert_array_equal(m.predict(half), m.predict(half.astype(np.float32)))
    flags = fib.x_test[:4] > 0.001
    np.testing.assert_array_equal(m.predict(flags), m.predict(flags.astype(np.float32)))
    w = m.get_weights()
    w[5][0, 0] = np.nan  # the dense kernel
    with pytest.raises(ValueError, match=r"set_weights: Wd: nan at index \[0, 0\]"):
        m.set_weights(w)


def test_get_weights_in_keras_order_and_shapes(rng):
    # The notebook-like model: an embedding, a bidirectional GRU, the tutorial's attention, a
    # dense head; Keras' order (the embedding first, each direction's kernel, recurrent kernel,
    # bias) and shapes (a GRU's bias [2, 3H], the attention's W [C, 1] and b [T, 1]).
    m = rnnattn.Model(units=3, cell="gru", bidirectional=True, vocab=11, embedding_dim=4)
    m.build(steps=5, outputs=2)
    w = m.get_weights()
    shapes = [a.shape for a in w]
    assert shapes == [
        (11, 4),
        (4, 9), (3, 9), (2, 9),
        (4, 9), (3, 9), (2, 9),
        (6, 1), (5, 1),
        (6, 2), (2,),
    ]  # fmt: skip
    assert all(a.dtype == np.float32 for a in w)
    # The arrays are copies in the flat layout's order otherwise: the same numbers as state_dict.
    sd = m.state_dict()
    np.testing.assert_array_equal(w[0], sd["emb"])
    np.testing.assert_array_equal(w[3].reshape(-1), sd["bh"])
    np.testing.assert_array_equal(w[8].reshape(-1), sd["ba"])
    # set_weights(get_weights()) changes nothing; new values arrive where get_weights reads them.
    before = m.params
    m.set_weights(w)
    np.testing.assert_array_equal(m.params, before)
    fresh = [rng.standard_normal(a.shape).astype(np.float32) * 0.1 for a in w]
    m.set_weights(fresh)
    for got, want in zip(m.get_weights(), fresh):
        np.testing.assert_array_equal(got, want)
    # Keras refuses a list of another length or another shape; so does rnnattn, by name.
    with pytest.raises(ValueError, match=r"set_weights: 10 arrays for a model of 11 weights"):
        m.set_weights(w[:-1])
    bad = list(w)
    bad[3] = w[3].reshape(-1)
    with pytest.raises(ValueError, match=r"set_weights: bh: shape \(18,\), expected \(2, 9\)"):
        m.set_weights(bad)
    with pytest.raises(TypeError, match="load_state_dict"):
        m.set_weights(sd)


def test_weights_by_name():
    m = rnnattn.Model(units=3, bidirectional=True).build(steps=4, features=2, outputs=1)
    w = m.state_dict()
    assert w["Wx"].shape == (2, 3) and w["Wh"].shape == (3, 3) and w["bh"].shape == (3,)
    assert w["l0.rev.Wx"].shape == (2, 3) and w["Wd"].shape == (6, 1) and w["ba"].shape == (4,)
    w["Wd"][:] = 0.0
    w["bd"][:] = 0.25
    # A part of the weights is refused unless asked for (PyTorch's strict), naming what lacks.
    with pytest.raises(ValueError, match=r"load_state_dict: missing Wx, Wh, bh, l0.rev.Wx"):
        m.load_state_dict({"Wd": w["Wd"], "bd": w["bd"]})
    m.load_state_dict({"Wd": w["Wd"], "bd": w["bd"]}, strict=False)
    np.testing.assert_allclose(m.predict(np.ones((2, 4, 2))), np.tanh(0.25), rtol=1e-6)
    m.load_state_dict(w)
    with pytest.raises(ValueError, match="no weight named 'W'"):
        m.load_state_dict({"W": 1}, strict=False)
    with pytest.raises(ValueError, match=r"load_state_dict: Wd: shape \(6,\), expected \(6, 1\)"):
        m.load_state_dict({"Wd": np.zeros(6)}, strict=False)


def test_units_is_kerass_name_for_hidden():
    assert rnnattn.Model(3).build(4).config.hidden_size == 3
    assert rnnattn.Model(units=4).build(4).config.hidden_size == 4
    assert rnnattn.Model(hidden=5).build(4).config.hidden_size == 5
    assert rnnattn.Model().build(4).config.hidden_size == 2
    with pytest.raises(ValueError, match="units and hidden"):
        rnnattn.Model(units=3, hidden=3)
    with pytest.raises(TypeError, match="units: expected an integer"):
        rnnattn.Model(units=2.5)


def test_fit_prints_keras_epoch_lines_by_default(fib, capsys):
    m = rnnattn.Model(seed=1)
    m.fit(fib.x_train, fib.y_train, epochs=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss:" in out
    m.fit(fib.x_train, fib.y_train, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""
    m.fit(fib.x_train, fib.y_train, epochs=1, verbose=2)
    assert "Epoch 4/4" in capsys.readouterr().out


def test_early_stopping_callback_is_kerass(fib):
    from rnnattn.callbacks import EarlyStopping

    x, y = fib.x_train, fib.y_train

    def model():
        return rnnattn.Model(seed=4)

    one, two = model(), model()
    one.fit(x, y, epochs=1, batch_size=64, validation_split=0.2, verbose=0)
    two.fit(x, y, epochs=2, batch_size=64, validation_split=0.2, verbose=0)
    # No epoch beats the first by 1e9: training stops after the second (patience 1).
    for restore, like in ((True, one), (False, two)):
        cb = EarlyStopping(min_delta=1e9, patience=1, restore_best_weights=restore)
        m = model()
        h = m.fit(
            x, y, epochs=10, batch_size=64, validation_split=0.2, callbacks=[cb], verbose=0
        )
        assert h.stopped_early and len(h.history["loss"]) == 2
        assert cb.stopped_epoch == 1 and cb.best_epoch == 0  # 0-based, as Keras'
        # restore_best_weights: the first epoch's bits; without it, the last epoch's.
        np.testing.assert_array_equal(m.params, like.params)
    # Keras' restore_best_weights restores only on a stop: a run that reaches its epochs keeps
    # its last weights.
    m = model()
    cb = EarlyStopping(monitor="loss", patience=50, restore_best_weights=True)
    m.fit(x, y, epochs=2, batch_size=64, validation_split=0.2, callbacks=[cb], verbose=0)
    np.testing.assert_array_equal(m.params, two.params)
    assert cb.stopped_epoch == 0
    # val_loss without validation data: refused, not (as Keras) a callback that never stops.
    with pytest.raises(ValueError, match="monitors val_loss, but there is no validation set"):
        model().fit(x, y, epochs=2, callbacks=[EarlyStopping()], verbose=0)
    with pytest.raises(TypeError, match="EarlyStopping only, not object"):
        model().fit(x, y, callbacks=[object()])
    with pytest.raises(ValueError, match="not both"):
        model().fit(x, y, callbacks=[EarlyStopping()], early_stopping=2)
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="max")
    with pytest.raises(ValueError, match="monitor"):
        EarlyStopping(monitor="val_accuracy")


def test_files_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("value\n1\n2\nabc\n4\n")
    with pytest.raises(rnnattn.DataError, match=r"bad\.csv:4: column 1"):
        rnnattn.data.read_csv(bad, steps=2)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(rnnattn.CheckpointError, match="junk.bin"):
        rnnattn.load(junk)
    # A failed save leaves no file behind, and an earlier file intact.
    m = rnnattn.Model().build(steps=3)
    with pytest.raises(rnnattn.CheckpointError, match="cannot write .*m.bin"):
        m.save(tmp_path / "no" / "such" / "dir" / "m.bin")
    m.save(tmp_path / "keep.bin")
    before = (tmp_path / "keep.bin").read_bytes()
    flat = m.params  # set_weights refuses NaN: through the core, as a diverged fit would leave it
    flat[-1] = float("nan")
    m._m.set_params(flat)
    with pytest.raises(ValueError, match="parameter .* is nan; nothing was written"):
        m.save(tmp_path / "keep.bin")
    assert (tmp_path / "keep.bin").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "junk.bin", "keep.bin"]


def test_read_csv_windows(tmp_path):
    path = tmp_path / "s.csv"
    values = np.arange(30, dtype=float) ** 1.5
    path.write_text("YEAR,value\n" + "".join(f"{1900 + i},{v}\n" for i, v in enumerate(values)))
    ds = rnnattn.data.read_csv(path, steps=5)
    assert ds.column == "value" and ds.x_train.shape[1:] == (5, 1)
    n_train = ds.x_train.shape[0]
    # Scaled on the training part only; the first window is rows 0..4 and predicts row 5.
    np.testing.assert_allclose(ds.unscale(ds.x_train[0, :, 0]), values[:5], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(ds.unscale(ds.y_train[0]), values[5], rtol=1e-5)
    assert n_train + ds.x_test.shape[0] == 30 - 5


def test_training_releases_the_gil(fib):
    m = rnnattn.Model(hidden=8, seed=1)
    done = threading.Event()
    ticks = 0

    def train():
        m.fit(fib.x_train, fib.y_train, epochs=15, batch_size=1)
        done.set()

    t = threading.Thread(target=train)
    t.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    t.join()
    # With the GIL held through fit, this thread would not run until it returned.
    assert ticks > 20


def test_token_model_with_an_embedding(rng):
    n, t, vocab = 24, 9, 30
    tokens = rng.integers(2, vocab, (n, t))
    lengths = rng.integers(1, t + 1, n)
    y = (tokens[:, 0] % 2).astype(np.float32)
    m = rnnattn.Model(hidden=4, vocab=vocab, embedding_dim=5, loss="bce", seed=2)
    h = m.fit(tokens, y, lengths=lengths, epochs=2, batch_size=8)
    assert len(h.history["loss"]) == 2 and m.state_dict()["emb"].shape == (vocab, 5)
    p = m.predict(tokens, lengths=lengths)
    assert p.shape == (n, 1) and np.all((p > 0) & (p < 1))
    with pytest.raises(TypeError, match="takes integer token ids"):
        m.predict(tokens.astype(np.float32))
    bad = tokens.copy()
    bad[0, 0] = vocab
    with pytest.raises(ValueError, match="token"):
        m.predict(bad, lengths=lengths)


def test_pad_sequences_places_tokens_as_keras(rng):
    seqs = [[5, 6], [1, 2, 3, 4, 5], []]
    # Keras' defaults: pre padding, pre truncating.
    np.testing.assert_array_equal(
        rnnattn.data.pad_sequences(seqs, maxlen=3), [[0, 5, 6], [3, 4, 5], [0, 0, 0]]
    )
    x, lengths = rnnattn.data.pad_sequences(
        seqs, maxlen=3, padding="post", truncating="post", return_lengths=True
    )
    np.testing.assert_array_equal(x, [[5, 6, 0], [1, 2, 3], [0, 0, 0]])
    np.testing.assert_array_equal(lengths, [2, 3, 1])  # an empty sequence reads one step
    _, pre_lengths = rnnattn.data.pad_sequences(seqs, maxlen=3, return_lengths=True)
    np.testing.assert_array_equal(pre_lengths, [3, 3, 3])  # pre: the padding is read as tokens
    assert rnnattn.data.pad_sequences(seqs).shape == (3, 5)  # maxlen: the longest
    with pytest.raises(ValueError, match="padding: 'middle'"):
        rnnattn.data.pad_sequences(seqs, padding="middle")
    # Both layouts train a token model.
    texts = [list(rng.integers(2, 30, int(k))) for k in rng.integers(1, 12, 24)]
    y = np.array([t[0] % 2 for t in texts], dtype=np.float32)
    for padding in ("pre", "post"):
        x, lengths = rnnattn.data.pad_sequences(
            texts, maxlen=9, padding=padding, return_lengths=True
        )
        m = rnnattn.Model(hidden=4, vocab=30, embedding_dim=5, loss="bce", seed=2)
        h = m.fit(x, y, lengths=lengths, epochs=1, batch_size=8, verbose=0)
        assert len(h.history["loss"]) == 1


def test_verbose_lines_reach_python_stdout(fib, capsys):
    # Keras' epoch lines go through sys.stdout (a notebook shows them), one per epoch.
    m = rnnattn.Model(hidden=2, seed=1)
    m.fit(fib.x_train, fib.y_train, epochs=2, batch_size=64, verbose=1)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Epoch")]
    assert [ln.split(" - ")[0] for ln in lines] == ["Epoch 1/2", "Epoch 2/2"]
    m.fit(fib.x_train, fib.y_train, epochs=1, batch_size=64, verbose=0)
    assert capsys.readouterr().out == ""  # verbose=0: silent


@pytest.mark.parametrize("score", ["dot", "dot-scaled"])
def test_dot_product_attention(rng, score, tmp_path):
    """Keras' dot-product Attention (the notebook's): trains, its weights (each step's mean over
    the queries) sum to one over the valid steps, it saves and loads, and a bad name is refused."""
    n, t, d = 8, 6, 3
    x = rng.standard_normal((n, t, d)).astype(np.float32)
    y = rng.uniform(-0.5, 0.5, (n, 1)).astype(np.float32)
    lengths = rng.integers(1, t + 1, n)
    m = rnnattn.Model(hidden=4, cell="lstm", bidirectional=True, attention=score, seed=2)
    m.fit(x, y, epochs=2, batch_size=4, lengths=lengths)
    pred, att = m.predict(x, lengths=lengths, return_attention=True)
    np.testing.assert_allclose(att.sum(axis=1), 1.0, rtol=1e-5)
    for i in range(n):
        assert np.all(att[i, lengths[i] :] == 0)
    m.save(tmp_path / "m.bin")
    back = rnnattn.load(tmp_path / "m.bin")
    np.testing.assert_array_equal(back.predict(x, lengths=lengths), pred)
    # The dot-product attention has no weights of its own; use_scale adds one scalar.
    plain = rnnattn.Model(hidden=4, cell="lstm", bidirectional=True, attention=False)
    extra = len(back.get_weights()) - len(plain.build(t, d, 1).get_weights())
    assert extra == (1 if score == "dot-scaled" else 0)
    with pytest.raises(ValueError, match="'dot' or 'dot-scaled'"):
        rnnattn.Model(attention="cosine")


def test_dropout_is_reproducible_and_checked(rng):
    """Keras' Dropout on the context: one seed, one result; the rate is checked."""
    n, t, d = 12, 5, 2
    x = rng.standard_normal((n, t, d)).astype(np.float32)
    y = rng.uniform(-0.5, 0.5, (n, 1)).astype(np.float32)
    runs = []
    for _ in range(2):
        m = rnnattn.Model(hidden=4, dropout=0.5, seed=3)
        m.fit(x, y, epochs=2, batch_size=4)
        runs.append(m.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    plain = rnnattn.Model(hidden=4, seed=3)
    plain.fit(x, y, epochs=2, batch_size=4)
    assert any(not np.array_equal(a, b) for a, b in zip(runs[0], plain.get_weights()))
    with pytest.raises(ValueError, match="dropout"):
        rnnattn.Model(dropout=1.0)
    # Keras' LSTM(dropout=, recurrent_dropout=): reproducible, and they act.
    layered = []
    for _ in range(2):
        m = rnnattn.Model(hidden=4, cell="lstm", input_dropout=0.3, recurrent_dropout=0.3, seed=3)
        m.fit(x, y, epochs=2, batch_size=4)
        assert m.config.input_dropout == pytest.approx(0.3)
        layered.append(m.get_weights())
    for a, b in zip(*layered):
        np.testing.assert_array_equal(a, b)
    lstm = rnnattn.Model(hidden=4, cell="lstm", seed=3)
    lstm.fit(x, y, epochs=2, batch_size=4)
    assert any(not np.array_equal(a, b) for a, b in zip(layered[0], lstm.get_weights()))
    with pytest.raises(ValueError, match="recurrent_dropout"):
        rnnattn.Model(recurrent_dropout=-0.1)


def test_softmax_over_classes_with_categorical_cross_entropy(rng):
    """Keras' Dense(K, softmax) with categorical_crossentropy: one-hot targets (to_categorical),
    accuracy per epoch on the validation data, rows of probabilities; other targets refused."""
    n, t, d = 240, 6, 2
    k = np.arange(n) % 3
    x = rng.normal(0, 0.15, (n, t, d)).astype(np.float32)
    x[k == 0, :, 0] += 0.8
    x[k == 1, :, 1] += 0.8
    y = rnnattn.to_categorical(k)
    assert y.shape == (n, 3) and y.dtype == np.float32 and np.all(y.sum(axis=1) == 1)
    m = rnnattn.Model(hidden=8, loss="cce", seed=5)
    h = m.fit(x, y, epochs=20, batch_size=16, validation_split=0.25, verbose=0)
    assert str(m.config.head) == "softmax" and m.config.output_size == 3
    assert h.history["val_accuracy"][-1] > 0.95
    p = m.predict(x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert (p.argmax(axis=1) == k).mean() > 0.95
    assert m.evaluate(x, y) < h.history["loss"][0]
    with pytest.raises(ValueError, match=r"y: row 1 is \[0.5, 0.0, 0.0\]; loss='cce' trains on"):
        bad = y.copy()
        bad[1] = [0.5, 0.0, 0.0]
        rnnattn.Model(hidden=2, loss="cce").fit(x, bad, verbose=0)
    with pytest.raises(ValueError, match="one-hot rows"):
        rnnattn.Model(hidden=2, loss="cce").fit(x, k, verbose=0)
    with pytest.raises(ValueError, match=r"in \[0, 2\)"):
        rnnattn.to_categorical([0, 2], num_classes=2)

