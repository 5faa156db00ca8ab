"""Training: the Trainer loop, Keras-style callbacks, metrics, gradient clipping and checkpoints.

    trainer = st.train.Trainer(model, st.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                               st.nn.CrossEntropyLoss(label_smoothing=0.1),
                               callbacks=[st.train.EarlyStopping(patience=3)])
    history = trainer.fit(train_loader, val_loader, epochs=10, checkpoint_path="run/last.ckpt")
    trainer.evaluate(test_loader)  # {'loss': ..., 'accuracy': ...}
"""

from . import metrics
from .callbacks import Callback, EarlyStopping, MetricsLogger, ModelCheckpoint, ReduceLROnPlateau
from .clip import clip_grad_norm_
from .metrics import accuracy, classification_report, confusion_matrix, precision_recall_f1, top_k_accuracy
from .progress import History
from .trainer import NonFiniteLossError, Trainer

__all__ = [
    "Callback", "EarlyStopping", "History", "MetricsLogger", "ModelCheckpoint", "NonFiniteLossError",
    "ReduceLROnPlateau", "Trainer", "accuracy", "classification_report", "clip_grad_norm_", "confusion_matrix",
    "metrics", "precision_recall_f1", "top_k_accuracy",
]
