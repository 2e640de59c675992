"""activeamp: active learning of precision neural-network surrogates for loop amplitudes."""

__version__ = "0.1.0"

__all__ = ["__version__"]
