"""JupyterLab settings for ``make lab`` (found through ``JUPYTER_CONFIG_PATH``, beside the
learner's own): a lesson is saved as committed, without outputs (``nbclean.pre_save``)."""

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/, in the server only
from nbclean import pre_save  # noqa: E402

# the server applies this setting twice (once per config section it loads): the same hook both times
warnings.filterwarnings("ignore", message="Overriding existing pre_save_hook")
c.ContentsManager.pre_save_hook = pre_save  # noqa: F821 (c is the config traitlets passes)
