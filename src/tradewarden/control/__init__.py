"""The warden's control services: the bots' kill switch (trading state) and the shared
circuit breakers, written where the bots' guard reads them (``tradewarden.guard``)."""

from tradewarden.control._breakers import BreakerAction, BreakerControl, BreakerView
from tradewarden.control._errors import (
    ControlError,
    ControlNotConfiguredError,
    ControlUnavailableError,
)
from tradewarden.control._open import Control, open_control, trading_state_file
from tradewarden.control._trading import StateOutcome, TradingControl

__all__ = [
    "BreakerAction",
    "BreakerControl",
    "BreakerView",
    "Control",
    "ControlError",
    "ControlNotConfiguredError",
    "ControlUnavailableError",
    "StateOutcome",
    "TradingControl",
    "open_control",
    "trading_state_file",
]
