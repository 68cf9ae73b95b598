"""rnnattn from Python: an Elman RNN (or LSTM, GRU) with additive attention, trained with rnnattn's
kernels (the fast CPU path, or the fused CUDA kernels where the package was built with CUDA).

    import rnnattn
    data = rnnattn.data.fibonacci(steps=20)
    model = rnnattn.Model(units=2, attention=True)
    history = model.fit(data.x_train, data.y_train, epochs=30, batch_size=1)
    y = model.predict(data.x_test)

``rnnattn.torch`` (imported on its own: it needs PyTorch) holds the model as a ``torch.nn.Module``.
"""

from . import _core, callbacks, data
from ._core import CheckpointError, DataError, Error, InvalidArgument, Unavailable
from ._model import History, Model, load, to_categorical

__version__ = _core.__version__


def built_with_cuda() -> bool:
    """Whether this package was built with the CUDA backend."""
    return _core.built_with_cuda()


def set_cpu_threads(n: int) -> None:
    """Sets the threads of the fast CPU path, process-wide.

    Args:
        n: Threads; 0 (the default) is one per core.
    """
    _core.set_cpu_threads(n)


__all__ = [
    "CheckpointError",
    "DataError",
    "Error",
    "History",
    "InvalidArgument",
    "Model",
    "Unavailable",
    "built_with_cuda",
    "callbacks",
    "data",
    "load",
    "set_cpu_threads",
    "to_categorical",
]
