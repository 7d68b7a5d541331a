"""Hormone dynamics, mood labels and the persisted state."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sel.brain.hormone_store import HormoneStore
from sel.brain.hormones import (
    BASELINES,
    EVENTS,
    HALF_LIVES,
    HORMONES,
    HormoneState,
    apply_event,
    decay,
    initial_state,
    local_hour,
    target,
)
from sel.brain.mood import mood_of, mood_report

NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC).timestamp()


def at(hour: float) -> float:
    return NOON + (hour - 12) * 3600


def state_with(now: float = NOON, **levels: float) -> HormoneState:
    base = initial_state(now, UTC)
    return HormoneState({**base.levels, **levels}, now)


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(st.sampled_from(sorted(EVENTS)), max_size=40),
    gaps=st.lists(st.floats(min_value=0, max_value=10 * 86400), min_size=40, max_size=40),
)
def test_levels_stay_within_zero_and_one(events, gaps):
    state = initial_state(NOON, UTC)
    now = NOON
    for event, gap in zip(events, gaps, strict=False):
        now += gap
        state = apply_event(state, event, now, UTC)
        for name in HORMONES:
            assert 0.0 <= state.levels[name] <= 1.0, f"{name}={state.levels[name]} after {event}"


@pytest.mark.parametrize("name", ["dopamine", "adrenaline", "estrogen", "testosterone"])
def test_distance_to_baseline_halves_every_half_life(name):
    start = state_with(**{name: 1.0})
    half_life = HALF_LIVES[name]
    gap0 = 1.0 - BASELINES[name]
    one = decay(start, NOON + half_life, UTC).levels[name] - BASELINES[name]
    two = decay(start, NOON + 2 * half_life, UTC).levels[name] - BASELINES[name]
    assert one == pytest.approx(gap0 / 2), f"{name}: after one half-life the gap is {one}, not {gap0 / 2}"
    assert two == pytest.approx(gap0 / 4)
    far = decay(start, NOON + 30 * half_life, UTC).levels[name]
    assert far == pytest.approx(BASELINES[name], abs=1e-6)


def test_decay_in_steps_equals_decay_in_one_go():
    start = state_with(dopamine=0.9, serotonin=0.1)
    stepwise = start
    for minute in range(1, 61):
        stepwise = decay(stepwise, NOON + minute * 60, UTC)
    at_once = decay(start, NOON + 3600, UTC)
    for name in ("dopamine", "serotonin", "adrenaline", "estrogen"):
        assert stepwise.levels[name] == pytest.approx(at_once.levels[name], abs=1e-3), name


def test_melatonin_is_high_at_night_and_low_by_day():
    night = {h: target("melatonin", h) for h in (0, 2, 3, 4, 5)}
    day = {h: target("melatonin", h) for h in (10, 12, 14, 16, 18)}
    assert min(night.values()) > 0.6, night
    assert max(day.values()) < 0.3, day
    assert max(range(24), key=lambda h: target("melatonin", h)) == 3


def test_cortisol_peaks_in_the_morning():
    peak = max(range(24), key=lambda h: target("cortisol", h))
    assert peak == 8
    assert target("cortisol", 8) - target("cortisol", 20) > 0.3
    assert target("cortisol", 6) < target("cortisol", 8) > target("cortisol", 11)


def test_circadian_rhythm_follows_local_time_not_utc():
    # 03:00 in Tokyo is 18:00 UTC the day before.
    tokyo = timezone(timedelta(hours=9))
    moment = datetime(2026, 3, 10, 3, 0, tzinfo=tokyo).timestamp()
    assert local_hour(moment, tokyo) == pytest.approx(3.0)
    assert local_hour(moment, UTC) == pytest.approx(18.0)
    assert initial_state(moment, tokyo).levels["melatonin"] > initial_state(moment, UTC).levels["melatonin"] + 0.4


@pytest.mark.parametrize(
    ("event", "up", "down"),
    [
        ("praise", {"dopamine", "serotonin"}, {"cortisol"}),
        ("hostility", {"cortisol", "adrenaline"}, {"serotonin", "dopamine"}),
        ("excitement", {"dopamine", "adrenaline"}, set()),
        ("sadness", {"estrogen"}, {"serotonin"}),
        ("ignored", {"cortisol"}, {"dopamine"}),
        ("long_silence", {"melatonin"}, {"adrenaline"}),
        ("mentioned", {"dopamine", "adrenaline"}, set()),
    ],
)
def test_stimuli_move_the_right_hormones(event, up, down):
    before = state_with()
    after = apply_event(before, event, NOON, UTC)
    for name in up:
        assert after.levels[name] > before.levels[name], f"{event} should raise {name}"
    for name in down:
        assert after.levels[name] < before.levels[name], f"{event} should lower {name}"
    untouched = set(HORMONES) - set(EVENTS[event])
    for name in untouched:
        assert after.levels[name] == before.levels[name], f"{event} should not touch {name}"


def test_same_events_and_clock_give_the_same_state():
    script = [("praise", 10.0), ("hostility", 70.0), ("excitement", 300.0), ("sadness", 4000.0)]

    def run() -> HormoneState:
        state = initial_state(NOON, UTC)
        for event, offset in script:
            state = apply_event(state, event, NOON + offset, UTC)
        return state

    first = run()
    assert first == run()
    assert first.updated_at == NOON + 4000.0, "the state is as of the last event, not of the wall clock"
    assert set(first.levels) == set(HORMONES)
    calm = initial_state(NOON + 4000.0, UTC)
    assert first.levels["estrogen"] > calm.levels["estrogen"], "the sadness a moment ago still shows"
    assert first.levels["serotonin"] < calm.levels["serotonin"], "hostility and sadness lowered serotonin"


@pytest.mark.parametrize(
    ("levels", "now", "mood"),
    [
        ({}, at(3), "sleepy"),
        ({}, at(12), "calm"),
        ({"cortisol": 0.8, "adrenaline": 0.7}, at(12), "tense"),
        ({"dopamine": 0.8, "adrenaline": 0.6}, at(12), "excited"),
        ({"dopamine": 0.7, "serotonin": 0.6}, at(12), "cheerful"),
        ({"estrogen": 0.7}, at(12), "tender"),
        ({"serotonin": 0.2}, at(12), "down"),
    ],
)
def test_mood_label_follows_the_levels(levels, now, mood):
    assert mood_of(state_with(now, **levels)).name == mood


def test_praise_cheers_sel_up_and_hostility_puts_it_on_guard():
    calm = initial_state(NOON, UTC)
    praised = calm
    for i in range(3):
        praised = apply_event(praised, "praise", NOON + i, UTC)
    assert mood_of(praised).name == "cheerful"
    attacked = calm
    for i in range(3):
        attacked = apply_event(attacked, "hostility", NOON + i, UTC)
    assert mood_of(attacked).name == "tense"


def test_mood_report_lists_mood_and_every_hormone():
    report = mood_report(state_with(dopamine=0.75))
    assert report.startswith("mood: ")
    for name in HORMONES:
        assert name in report
    assert "0.75" in report


def test_state_survives_a_restart(tmp_path):
    state = apply_event(initial_state(NOON, UTC), "praise", NOON + 5, UTC)
    HormoneStore(tmp_path).save(state)
    loaded = HormoneStore(tmp_path).load()
    assert loaded == state
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hormones.json"], "temp files left behind"


def test_missing_state_file_means_defaults(tmp_path):
    assert HormoneStore(tmp_path / "nowhere").load() is None


@pytest.mark.parametrize(
    "content",
    [b"{not json", json.dumps({"version": 1, "updated_at": 1.0, "levels": {"dopamine": 7}}).encode(), b"\xff\xfe"],
)
def test_corrupt_state_is_kept_aside_and_reported(tmp_path, caplog, content):
    path = tmp_path / "hormones.json"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="sel.brain.hormone_store"):
        assert HormoneStore(tmp_path).load() is None
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("hormones.json.corrupt-")]
    assert len(kept) == 1, list(tmp_path.iterdir())
    assert kept[0].read_bytes() == content
    assert not path.exists()
    assert "unreadable" in caplog.text


def test_corrupt_files_set_aside_in_the_same_second_are_all_kept(tmp_path):
    path = tmp_path / "hormones.json"
    contents = [b"{first broken", b"{second broken", b"{third broken"]
    for content in contents:
        path.write_bytes(content)
        assert HormoneStore(tmp_path, clock=lambda: NOON).load() is None
    kept = sorted(p for p in tmp_path.iterdir() if p.name.startswith("hormones.json.corrupt-"))
    assert sorted(p.read_bytes() for p in kept) == sorted(contents), f"a bad file was overwritten: {kept}"
    assert not path.exists()
