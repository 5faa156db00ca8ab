"""Plots (PNG files, drawn with matplotlib, which is imported only when a plot is made).

Training curves, the confusion matrix, the first conv layer's filters, every conv layer's
feature maps for one image, the misclassified examples, and any images side by side.
"""

from .plots import plot_confusion_matrix, plot_feature_maps, plot_filters, plot_history, plot_images, plot_misclassified

__all__ = ["plot_confusion_matrix", "plot_feature_maps", "plot_filters", "plot_history", "plot_images",
           "plot_misclassified"]
