import sys
import warnings
from pathlib import Path

TRAINING = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TRAINING))
REPO = TRAINING.parent.parent

# The exporter's chatter (torchvision ops, LSTM weight attributes) is not about our code.
warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)
