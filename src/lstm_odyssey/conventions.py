"""Conventions a trial's result depends on, stated once: the loss scale and the trial identity.

Torch-free on purpose: the Snakefile (every trial's settings, so a change reruns the trials) and
the results tables (which refuse to mix conventions) read it without importing the trainer.
"""

LOSS_CONVENTION = "sum_over_steps_mean_over_sequences"
"""A sequence's loss is the sum of its per-step losses; a batch's is the mean over sequences.

The convention of the paper's framework (Brainstorm's loss layer sums over time and divides by the
batch size); the paper's learning-rate range [1e-6, 1e-2] is calibrated for it.
"""


RESULT_NEUTRAL_SETTINGS = ("implementation", "eval_batch_size", "device")
"""Trial settings that change a result by float round-off at most.

Every implementation computes the same function, and the evaluation metric does not depend on its
batch size (padding never counts; tested). The device neither: the initial weights and the
input-noise stream are drawn on the CPU whatever the device, and a checkpoint is read onto the CPU
first, so a half-done study moves to GPU nodes (or back) without retraining a finished trial, and
a running one resumes from its checkpoint. They are not part of a trial's identity: changing them
neither reruns a finished trial in Snakemake nor restarts a checkpoint.
"""
