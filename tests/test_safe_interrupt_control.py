"""The safe-interrupt control takes over SIGINT/SIGTERM and gives them back."""

import signal

import pytest

from chaoslitmus.controls import safe_interrupt


def test_handlers_are_taken_and_given_back():
    before = {sig: signal.getsignal(sig) for sig in safe_interrupt.SIGNALS}
    safe_interrupt.before_experiment_control({}, engine_name="e", namespace="ns")
    try:
        assert signal.getsignal(signal.SIGTERM) is not before[signal.SIGTERM]
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
        safe_interrupt.before_rollback_control({})
    finally:
        safe_interrupt.after_experiment_control({})
    assert {sig: signal.getsignal(sig) for sig in safe_interrupt.SIGNALS} == before


def test_during_rollbacks_the_first_signal_is_absorbed(caplog):
    before = signal.getsignal(signal.SIGINT)
    # no engine configured: nothing to stop, the rollbacks just go on
    safe_interrupt.before_experiment_control({})
    safe_interrupt.before_rollback_control({})
    try:
        signal.raise_signal(signal.SIGINT)  # absorbed, logged
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)  # the second one goes through
    finally:
        safe_interrupt.after_experiment_control({})
    assert signal.getsignal(signal.SIGINT) is before
