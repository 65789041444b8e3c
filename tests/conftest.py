"""Fixtures every test folder may use; plain helpers and paths live in ``support.py``."""

from __future__ import annotations

import logging
import signal
import warnings

import pytest

from mirage_bayes.output import destination


@pytest.fixture(autouse=True)
def no_claims_left():
    """No test leaves a destination claimed (a claim stops a later run from writing there)."""
    yield
    assert not destination.claimed(), "a claim outlived its test"
    destination.release_all()


@pytest.fixture
def quiet_sampler():
    """PyMC's progress lines and the sampler's warnings off, for tests that read neither."""
    logging.getLogger("pymc").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture
def ctrl_c_interrupts():
    """Ctrl-C raises KeyboardInterrupt, as in a terminal, even when the test run was started in
    the background (a shell starts background jobs with SIGINT ignored, and so do its children)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
