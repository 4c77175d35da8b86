import os
import sys
import warnings
from pathlib import Path

# One torch thread in tests (and in the scripts they start): multi-threaded torch stalls on small
# ops whenever the cores are shared, and the test models are tiny.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)

TRAINING = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TRAINING))
REPO = TRAINING.parent.parent

# The exporter's chatter (torchvision ops, LSTM weight attributes) is not about our code.
warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)
