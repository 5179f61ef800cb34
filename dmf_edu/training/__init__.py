r"""Training a deep factorization by gradient descent (E1 per step, E19 for the adaptive step).

One module per concern:

* :mod:`.loop` — :func:`gradient_descent` (plain GD or the adaptive step of E19, batched over
  trials), :class:`Stepper` (one run's factors and optimizer) and :class:`DivergenceError`;
* :mod:`.model` — :class:`Model`, what the one loop (:func:`train`) needs of a factorization, and
  :class:`MatrixModel` (``dmf_edu.tensors`` adds the CP model on top);
* :mod:`.run` — :class:`Run`, the result of every training call and flow, and the
  :class:`~.run.Checkpoint` that saves and resumes one;
* :mod:`.history` — what a run records and when (:func:`record_schedule`);
* :mod:`.lockstep` — many runs on one shared problem advanced together
  (:func:`train_together`).
"""

from .history import RECORD_BUDGET, Recorder, record_schedule
from .lockstep import shared_loss_and_gradient, train_together
from .loop import OPTIMIZERS, DivergenceError, Stepper, gradient_descent, train
from .model import MatrixModel, Model
from .run import Checkpoint, Run

__all__ = ["gradient_descent", "Stepper", "DivergenceError", "Run", "Checkpoint", "record_schedule",
           "Recorder", "RECORD_BUDGET", "OPTIMIZERS", "train_together", "shared_loss_and_gradient",
           "train", "Model", "MatrixModel"]
