"""Tests of nmf_helpers/spectral.py: STFT convention, round trip, Griffin-Lim."""

import importlib
import re
import tracemalloc

import librosa
import numpy as np
import pytest
import scipy.fft

import nmf_helpers as nh

SPECTRAL = importlib.import_module("nmf_helpers.spectral")
THREADS = importlib.import_module("nmf_helpers._threads")


@pytest.mark.parametrize("n_samples", [2048, 22050, 22051, 30000])
@pytest.mark.parametrize(("win", "hop"), [(2048, 512), (1024, 256), (1000, 300)])
def test_istft_of_stft_gives_back_the_signal(rng, n_samples, win, hop):
    # Every length here is at least one window; tests/test_properties.py draws any length.
    x = rng.standard_normal(n_samples).astype(np.float32) * 0.3
    y = nh.istft(nh.stft(x, win=win, hop=hop), win=win, hop=hop, length=x.size)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.max(np.abs(y - x)) < 1e-5


def test_round_trip_on_music(groove):
    x, _ = groove
    assert np.max(np.abs(nh.istft(nh.stft(x), length=x.size) - x)) < 1e-5


def test_stft_follows_librosa_convention(groove):
    x = groove[0][:100_000]
    ours = nh.stft(x)
    theirs = librosa.stft(x, n_fft=2048, hop_length=512, pad_mode="constant")
    assert ours.shape == theirs.shape == (1025, 1 + x.size // 512)
    assert ours.dtype == np.complex64
    assert np.max(np.abs(ours - theirs)) < 1e-4 * np.max(np.abs(theirs))


def test_spectrogram_is_the_float32_magnitude(groove):
    x = groove[0]
    V = nh.spectrogram(x)
    assert V.shape == (1025, 1 + x.size // 512) and V.dtype == np.float32
    assert V.flags.c_contiguous and V.min() >= 0
    assert np.allclose(V, np.abs(nh.stft(x)))


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.zeros(0, np.float32), "x is empty"),
        (np.zeros(4096, np.float32), "x is silent"),
        (np.ones(100, np.float32), "shorter than one window"),
        (np.full(4096, np.nan, np.float32), "NaN or Inf"),
        (np.ones((2, 4096), np.float32), "mono 1-D waveform"),
        (np.array(["a"] * 4096), "real waveform"),
    ],
)
def test_spectrogram_rejects_bad_audio(x, message):
    with pytest.raises(nh.ParameterError, match="spectrogram: .*" + message):
        nh.spectrogram(x)


def test_frame_sizes_are_checked():
    x = np.ones(4096, np.float32)
    with pytest.raises(nh.ParameterError, match="stft: hop .* must not exceed win"):
        nh.stft(x, win=512, hop=1024)
    with pytest.raises(nh.ParameterError, match="istft: X must have shape"):
        nh.istft(np.ones((10, 5), np.complex64))
    with pytest.raises(nh.ParameterError, match="griffin_lim: n_iter must be >= 1"):
        nh.griffin_lim(np.ones((1025, 5)), n_iter=0)
    with pytest.raises(nh.ParameterError, match="griffin_lim: momentum"):
        nh.griffin_lim(np.ones((1025, 5)), momentum=3.0)
    with pytest.raises(nh.ParameterError, match="griffin_lim: V must be nonnegative"):
        nh.griffin_lim(-np.ones((1025, 5)))


def test_spectral_convergence_of_the_original_is_near_zero(groove):
    x = groove[0]
    V = nh.spectrogram(x)
    assert nh.spectral_convergence(V, x) < 1e-5
    assert nh.spectral_convergence(V, np.zeros_like(x)) == pytest.approx(1.0)


@pytest.mark.parametrize("momentum", [0.99, 0.0])
def test_griffin_lim_matches_librosa_from_the_same_start(groove_V, momentum):
    V = groove_V[:, :300]
    for seed in (0, 1):
        ours = nh.griffin_lim(V, n_iter=30, momentum=momentum, seed=seed)
        theirs = librosa.griffinlim(
            V, n_iter=30, n_fft=2048, hop_length=512, momentum=momentum,
            random_state=seed, init="random",
        )  # fmt: skip
        sc_ours = nh.spectral_convergence(V, ours)
        sc_theirs = nh.spectral_convergence(V, theirs)
        assert sc_ours <= sc_theirs * 1.001 + 1e-6


def test_griffin_lim_quality_on_an_nmf_reconstruction(groove_V):
    # The first 400 frames (9 s) give the same figures as all 790 (measured
    # 0.106 / 0.148 / 0.218 against 0.108 / 0.158 / 0.230) in half the time.
    W, H, _ = nh.nmf_kl(groove_V[:, :400], 10, n_iter=50)
    WH = W @ H
    fast = nh.spectral_convergence(WH, nh.griffin_lim(WH, n_iter=50))
    classic = nh.spectral_convergence(WH, nh.griffin_lim(WH, n_iter=50, momentum=0.0))
    few = nh.spectral_convergence(WH, nh.griffin_lim(WH, n_iter=5))
    assert fast < classic < few  # momentum helps; more iterations help
    assert fast < 0.15


def test_griffin_lim_is_deterministic_and_sized(groove_V):
    V = groove_V[:, :100]
    a = nh.griffin_lim(V, n_iter=5)
    assert np.array_equal(a, nh.griffin_lim(V, n_iter=5))
    assert not np.array_equal(a, nh.griffin_lim(V, n_iter=5, seed=3))
    assert a.shape == ((100 - 1) * 512,) and a.dtype == np.float32
    assert nh.griffin_lim(V, n_iter=2, length=60_000).shape == (60_000,)


def test_griffin_lim_handles_silent_frames(groove_V):
    V = np.array(groove_V[:, :200])
    V[:, 50:120] = 0.0
    y = nh.griffin_lim(V, n_iter=20)
    assert np.all(np.isfinite(y))
    assert np.max(np.abs(y[60 * 512 : 110 * 512])) < 1e-4


def test_frame_sizes_are_checked_before_use():
    x = np.ones(100, np.float32)
    with pytest.raises(nh.ParameterError, match="shorter than one window"):
        nh.stft(x, win=np.int64(2048))
    with pytest.raises(nh.ParameterError, match="spectral_convergence: hop must be >= 1"):
        nh.spectral_convergence(np.ones((1025, 3)), np.ones(4096, np.float32), hop=0)


@pytest.mark.parametrize(("seed", "message"), [(-1, "between 0 and 2\\*\\*32"), ("a", "integer")])
def test_bad_seeds_name_the_function(seed, message):
    with pytest.raises(nh.ParameterError, match="griffin_lim: seed must be " + ".*" + message):
        nh.griffin_lim(np.ones((1025, 4)), n_iter=1, seed=seed)
    with pytest.raises(nh.ParameterError, match="nmf_kl: seed must be"):
        nh.nmf_kl(np.ones((5, 5)), 2, seed=seed)


def test_griffin_lim_refuses_a_V_beyond_float32():
    with pytest.raises(nh.ParameterError) as error:
        nh.griffin_lim(np.full((1025, 4), 1e39), n_iter=1)
    assert str(error.value).startswith("griffin_lim: V has values up to 1e+39 in magnitude")
    assert "scale it down" in str(error.value)


@pytest.mark.parametrize("peak", [3e38, 1e30, 1e-30])
def test_griffin_lim_far_from_audio_is_the_scaled_down_waveform_scaled_back(groove_V, peak):
    # Before: the FFTs of a V near 1e30 passed float32's range (NaN), and a
    # tiny V fell under the phase floor (phases lost).
    V = groove_V[:, :100].astype(np.float64)
    factor = peak / V.max()
    y = nh.griffin_lim((V * factor).astype(np.float32), n_iter=5)
    assert np.all(np.isfinite(y))
    expected = nh.griffin_lim((V * factor / peak).astype(np.float32), n_iter=5) * peak
    np.testing.assert_allclose(y, expected, rtol=1e-3, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("exponent", [120, -60])
def test_griffin_lim_scaling_by_a_power_of_two_changes_no_digit(groove_V, exponent):
    V = groove_V[:, :100]
    y = nh.griffin_lim(np.ldexp(V, exponent), n_iter=5)
    assert np.array_equal(y, np.ldexp(nh.griffin_lim(V, n_iter=5), exponent))


def test_griffin_lim_refuses_a_waveform_beyond_float32(rng):
    # Samples past the last frame's centre are divided by the small tail of
    # the window: there the waveform of a V near float32's maximum passes it.
    V = (rng.random((1025, 10)) * 3e38).astype(np.float32)
    assert np.all(np.isfinite(nh.griffin_lim(V, n_iter=2)))  # up to the last centre: fine
    with pytest.raises(nh.ParameterError) as error:
        nh.griffin_lim(V, n_iter=2, length=9 * 512 + 1000)
    assert str(error.value) == (
        "griffin_lim: the waveform for this V would pass float32's range (3.4e38); scale V down"
    )


def test_a_range_shorter_than_a_frame_names_the_function_and_the_argument():
    with pytest.raises(nh.ParameterError) as error:
        nh.time_range_frames((1.0, 1.05), n_samples=SR_10S)
    assert str(error.value) == (
        "time_range_frames: time_range 1:1.05 s is shorter than one frame (0.093 s)"
    )


SR_10S = 22050 * 10


@pytest.mark.parametrize(("n_iter", "momentum"), [(1, 0.0), (3, 0.99)])
def test_griffin_lim_starts_from_librosas_phases(groove_V, n_iter, momentum):
    # The same seed draws the same initial phases as librosa.griffinlim, so the
    # same iterations give the same waveform (to float32 rounding: measured
    # 5e-7 of the peak); another seed gives another waveform altogether.
    V = groove_V[:, :120]
    options = {"n_fft": 2048, "hop_length": 512, "init": "random", "momentum": momentum}
    for seed in (0, 7):
        ours = nh.griffin_lim(V, n_iter=n_iter, momentum=momentum, seed=seed)
        theirs = librosa.griffinlim(V, n_iter=n_iter, random_state=seed, **options)
        peak = np.abs(theirs).max()
        assert ours.shape == theirs.shape
        assert np.abs(ours - theirs).max() <= 1e-5 * peak
        other = librosa.griffinlim(V, n_iter=n_iter, random_state=seed + 1, **options)
        assert np.abs(ours - other).max() > 0.1 * peak


def test_worker_count_switches_at_parallel_min_entries(monkeypatch):
    assert THREADS.usable_cores() == len(THREADS.os.sched_getaffinity(0))
    monkeypatch.setattr(THREADS, "usable_cores", lambda: 5)
    switch = THREADS.PARALLEL_MIN_ENTRIES
    assert switch == 3_000_000  # about 70 s of audio at the default STFT
    assert THREADS.worker_count(0) == THREADS.worker_count(switch - 1) == 1
    assert THREADS.worker_count(switch) == THREADS.worker_count(10 * switch) == 5
    assert SPECTRAL.worker_count is THREADS.worker_count  # the switch griffin_lim asks


@pytest.mark.parametrize("workers", [2, 3])
def test_threaded_griffin_lim_gives_the_single_thread_signal(groove_V, monkeypatch, workers):
    # A clip this short runs on one thread; force the threaded FFTs of long songs.
    V = groove_V[:, :150]
    single = nh.griffin_lim(V, n_iter=5)
    monkeypatch.setattr(SPECTRAL, "worker_count", lambda n_entries: workers)
    threaded = nh.griffin_lim(V, n_iter=5)
    # Each frame's FFT is the same whichever worker computes it.
    np.testing.assert_allclose(threaded, single, rtol=0, atol=1e-6 * np.abs(single).max())


def test_a_long_song_takes_the_threaded_path_and_gives_the_same_signal(rng, monkeypatch):
    # Over PARALLEL_MIN_ENTRIES (a song over about 70 s), with the real switch.
    V = rng.random((1025, THREADS.PARALLEL_MIN_ENTRIES // 1025 + 1)).astype(np.float32)
    monkeypatch.setattr(THREADS, "usable_cores", lambda: 2)  # even on a one-core machine
    asked = []
    real = SPECTRAL.worker_count
    monkeypatch.setattr(SPECTRAL, "worker_count", lambda n: asked.append(real(n)) or asked[-1])
    threaded = nh.griffin_lim(V, n_iter=2)
    assert asked == [2]
    monkeypatch.setattr(SPECTRAL, "worker_count", lambda n: 1)
    single = nh.griffin_lim(V, n_iter=2)
    np.testing.assert_allclose(threaded, single, rtol=0, atol=1e-6 * np.abs(single).max())


@pytest.mark.parametrize(
    ("n_samples", "win", "hop"),
    [(4096, 2048, 512), (4607, 2048, 512), (3300, 1001, 300), (3301, 1001, 300)],
)
def test_frame_count_is_the_stfts_frame_count(n_samples, win, hop):
    # An odd window loses one sample of padding: at 3300 samples 1 + n // hop is one too many.
    X = nh.stft(np.ones(n_samples, np.float32), win=win, hop=hop)
    assert SPECTRAL.frame_count(n_samples, win, hop) == X.shape[1]


X_3_FRAMES = np.ones((1025, 3), np.complex64)
V_3_FRAMES = np.ones((1025, 3), np.float32)
ONE_WINDOW = np.ones(2048, np.float32)
TEN_SECONDS = 22050 * 10


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: nh.istft(X_3_FRAMES, win=1), "istft: win must be >= 2"),
        (lambda: nh.griffin_lim(V_3_FRAMES, win=1), "griffin_lim: win must be >= 2"),
        (lambda: nh.griffin_lim(V_3_FRAMES[:10]), "griffin_lim: V must have shape (1025, ?)"),
        (lambda: nh.griffin_lim(V_3_FRAMES, length=0), "griffin_lim: length must be >= 1"),
        (
            lambda: nh.spectral_convergence(np.zeros((1025, 3)), ONE_WINDOW),
            "spectral_convergence: V is all zeros",
        ),
        (
            lambda: nh.griffin_lim(V_3_FRAMES, momentum=1.51),
            "griffin_lim: momentum must be between 0.0 and 1.5",
        ),
        (lambda: nh.istft(X_3_FRAMES[:10]), "istft: X must have shape (1025, ?)"),
        (lambda: nh.istft(X_3_FRAMES, length=0), "istft: length must be >= 1"),
        (lambda: nh.shift_templates(-np.ones((8, 2)), 1), "shift_templates: W must be nonneg"),
        (lambda: nh.shift_templates(np.ones((8, 2)), 12.5), "shift_templates: semitones must"),
        (lambda: nh.shift_templates(np.ones((8, 2)), -12.5), "shift_templates: semitones must"),
        (lambda: nh.spectral_convergence(V_3_FRAMES, ONE_WINDOW[:100]), "spectral_convergence: y "),
        (
            lambda: nh.spectral_convergence(V_3_FRAMES[:10], ONE_WINDOW),
            "spectral_convergence: V must have shape (1025, ?)",
        ),
        (lambda: nh.time_range_frames((0, 1), n_samples=0), "time_range_frames: n_samples must"),
        (lambda: nh.time_range_frames((0, 1), n_samples=9, sr=0), "time_range_frames: sr must"),
        (lambda: nh.time_range_frames((0, 1), n_samples=22050, hop=0), "time_range_frames: hop"),
        (lambda: nh.time_range_frames((0, 2), n_samples=22050), "time_range_frames: time_range 0"),
    ],
)
def test_each_door_names_itself_and_the_argument(call, message):
    with pytest.raises(nh.ParameterError) as error:
        call()
    assert str(error.value).startswith(message)


def test_the_smallest_and_largest_allowed_arguments_are_accepted():
    assert nh.istft(X_3_FRAMES, length=1).shape == (1,)
    assert np.all(np.isfinite(nh.griffin_lim(V_3_FRAMES, n_iter=1, momentum=1.5)))
    assert nh.griffin_lim(V_3_FRAMES, n_iter=1, length=1).shape == (1,)
    unit = np.zeros((1025, 3))
    unit[100, 1] = 1.0  # a norm of exactly 1 is no all-zero V
    assert 0 < nh.spectral_convergence(unit, ONE_WINDOW) < np.inf
    W = np.ones((8, 1))
    assert nh.shift_templates(W, 12).shape == nh.shift_templates(W, -12).shape == (8, 1)
    # One sample (of a song at 1 Hz) is a valid song: the range is what is too short.
    with pytest.raises(nh.ParameterError, match="shorter than one frame"):
        nh.time_range_frames((0.0, 1.0), n_samples=1, sr=1)
    assert nh.time_range_frames((0, 4096), n_samples=4096, sr=1) == slice(0, 7)


def test_istft_of_a_real_negative_spectrum_and_its_default_length():
    # A real spectrum may have either sign (phase 0 or pi): it is not a magnitude.
    X = np.linspace(-1.0, 1.0, 1025 * 4).reshape(1025, 4)
    y = nh.istft(X)
    assert y.shape == ((4 - 1) * 512,) and y.dtype == np.float32
    np.testing.assert_array_equal(nh.istft(-X), -y)


def test_a_waveform_shorter_or_longer_than_V_is_zero_padded_or_cut_to_its_frames(groove):
    x = groove[0][:100_000]
    V = nh.spectrogram(x)
    for y, frames in [(x[:40_000], slice(None)), (x, slice(0, 100))]:
        target = V[:, frames]
        realised = nh.spectrogram(y)
        n_frames = target.shape[1]
        realised = np.pad(realised, ((0, 0), (0, max(0, n_frames - realised.shape[1]))))
        error = target.astype(np.float64) - realised[:, :n_frames]
        expected = np.linalg.norm(error) / np.linalg.norm(target.astype(np.float64))
        assert nh.spectral_convergence(target, y) == pytest.approx(expected, rel=1e-5)
    assert 0.5 < nh.spectral_convergence(V, x[:40_000]) < 1.0  # the missing half counts


def test_shift_templates_interpolates_linearly_and_is_zero_above_the_top_bin():
    # A template linear in frequency is moved exactly: bin m takes the value at m / r.
    ramp = np.arange(9.0)[:, None]
    np.testing.assert_allclose(nh.shift_templates(ramp, 12)[:, 0], np.arange(9) / 2)
    down = nh.shift_templates(ramp, -12)[:, 0]  # bin m takes bin 2 m: nothing above bin 8
    np.testing.assert_array_equal(down, [0, 2, 4, 6, 8, 0, 0, 0, 0])
    np.testing.assert_allclose(
        nh.shift_templates(ramp, 7)[:, 0], np.arange(9) / 2 ** (7 / 12), rtol=1e-6
    )


def test_time_range_frames_of_an_odd_window_at_exact_frame_edges():
    # win 1001, hop 300 at 1000 Hz: frame n covers samples 300 n - 500 to 300 n + 500,
    # so frame 10 covers 2.5 s to 3.5 s exactly, and is the only frame in that range.
    frames = nh.time_range_frames((2.5, 3.5), n_samples=10_000, sr=1000, win=1001, hop=300)
    assert frames == slice(10, 11)


def test_time_range_frames_default_sample_rate_is_22050():
    long_range = {"time_range": (0.0, 1000.0), "n_samples": 22051 * 1000}
    assert nh.time_range_frames(**long_range) == nh.time_range_frames(**long_range, sr=22050)
    assert nh.time_range_frames(**long_range) != nh.time_range_frames(**long_range, sr=22051)


def test_a_core_called_without_an_argument_name_says_the_range_only():
    with pytest.raises(nh.ParameterError) as error:
        SPECTRAL.time_range_frames_unchecked((1.0, 1.05), 22050, 2048, 512, function="detect")
    assert str(error.value) == "detect: 1:1.05 s is shorter than one frame (0.093 s)"


def test_griffin_lim_defaults_are_100_quiet_iterations_from_seed_0(capsys):
    V = np.random.default_rng(5).random((1025, 6)).astype(np.float32)
    default = nh.griffin_lim(V)
    assert capsys.readouterr().err == ""  # no progress bar unless asked
    np.testing.assert_array_equal(default, nh.griffin_lim(V, n_iter=100, seed=0))
    assert not np.array_equal(default, nh.griffin_lim(V, n_iter=101, seed=0))
    nh.griffin_lim(V, n_iter=2, progress=True)
    bar = capsys.readouterr().err
    assert re.search(r"(^|\r)griffin_lim: ", bar)
    assert not bar.endswith("\n")  # the bar is cleared when done, not left behind


def test_a_generator_seed_gives_one_phase_per_bin_from_its_stream():
    V = np.random.default_rng(5).random((1025, 6)).astype(np.float32)
    stream = np.random.default_rng(7)
    first = nh.griffin_lim(V, n_iter=2, seed=stream)
    again = np.random.default_rng(7)
    np.testing.assert_array_equal(first, nh.griffin_lim(V, n_iter=2, seed=again))
    # Both drew V.size numbers: the streams go on together.
    assert stream.random() == again.random()
    assert not np.array_equal(first, nh.griffin_lim(V, n_iter=2, seed=stream))


def record_fft_workers(monkeypatch) -> list[tuple[str, int | None]]:
    """(transform, workers) of every FFT the package asks scipy for, from now on."""
    calls = []

    def recording(transform):
        def fft(*args, workers=None, **kwargs):
            calls.append((transform.__name__, workers))
            return transform(*args, workers=workers, **kwargs)

        return fft

    monkeypatch.setattr(SPECTRAL.scipy.fft, "rfft", recording(scipy.fft.rfft))
    monkeypatch.setattr(SPECTRAL.scipy.fft, "irfft", recording(scipy.fft.irfft))
    return calls


def test_griffin_lims_ffts_all_get_the_workers_asked_for(monkeypatch):
    # The threaded path of long songs, on a small V: every FFT of the loop is spread.
    monkeypatch.setattr(SPECTRAL, "worker_count", lambda n_entries: 3)
    calls = record_fft_workers(monkeypatch)
    nh.griffin_lim(V_3_FRAMES, n_iter=2)
    assert calls == [("irfft", 3), ("rfft", 3)] * 2 + [("irfft", 3)]


def test_the_other_transforms_run_on_one_thread(monkeypatch):
    # Below PARALLEL_MIN_ENTRIES waking a second thread costs more than it saves (_threads).
    calls = record_fft_workers(monkeypatch)
    X = nh.stft(ONE_WINDOW)
    nh.istft(X)
    nh.spectral_convergence(nh.spectrogram(ONE_WINDOW), ONE_WINDOW)
    assert calls == [("rfft", 1), ("irfft", 1), ("rfft", 1), ("rfft", 1)]


def test_the_overflow_check_holds_no_copy_of_the_signal():
    """np.abs(x).max() held a float copy of x: 1.3 GB for an hour of 44.1 kHz stereo."""
    x = np.zeros(1 << 22, np.float32)  # 16 MB
    x[3] = -1e36  # negative peaks count: 1e36 * 1024 passes float32's range
    X = np.full((3, 3), np.inf, np.complex64)
    tracemalloc.start()
    try:
        with pytest.raises(nh.ParameterError, match="x peaks at 1e\\+36"):
            SPECTRAL._refuse_overflow("stft", x, X, 2048)
        x[3] = 0.5
        SPECTRAL._refuse_overflow("stft", x, X, 2048)  # audio: X is not looked at
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < x.nbytes // 16, f"{peak} bytes held to check {x.nbytes}"
