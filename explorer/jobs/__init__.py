"""Training jobs for the app, one idea a module: admission (how many train at once), spec (what a job
is asked to do), job (its lifecycle on a background thread), snapshots (what the page reads)."""
from .admission import (DEFAULT_MAX_TRAININGS, TrainingSlots, max_trainings_from_env, server_slots,
                        threads_per_training, wait_reason)
from .job import TrainingJob
from .snapshots import ACTIVE, JobSnapshot, LIVE_WEIGHTS_S, LatentMap, LiveMap, MAP_POINTS, STATUSES
from .spec import JobSpec, build_trainer

__all__ = [
    "DEFAULT_MAX_TRAININGS", "TrainingSlots", "max_trainings_from_env", "server_slots",
    "threads_per_training", "wait_reason", "TrainingJob", "ACTIVE", "LIVE_WEIGHTS_S", "MAP_POINTS",
    "STATUSES", "JobSnapshot", "LatentMap", "LiveMap", "JobSpec", "build_trainer",
]
