"""PyTorch's ``torch.nn.utils`` spelling of the gradient helpers (the code lives in `optim`)."""
from ..optim.clip import clip_grad_norm_

__all__ = ["clip_grad_norm_"]
