"""The parsers behind status, on recorded output of squeue, scontrol and sacct (Slurm 22.05), and the job's GPUs."""

from __future__ import annotations

from talkingface.slurm.job import gpu_flag, this_jobs
from talkingface.slurm.record import expand
from talkingface.slurm.states import JobState, parse_sacct, parse_scontrol, parse_squeue

SQUEUE = """1041|RUNNING|None
1042|PENDING|Dependency
1050_[1-2%1]|PENDING|JobArrayTaskLimit
1050_0|RUNNING|None
"""
SCONTROL = (
    "JobId=1043 JobName=tf-ernerf-clip-infer UserId=root(0) GroupId=root(0) JobState=CANCELLED "
    "Reason=DependencyNeverSatisfied Dependency=afterok:1042(failed) Requeue=1 ExitCode=0:0 RunTime=00:00:00\n"
    "JobId=1051 ArrayJobId=1050 ArrayTaskId=1 JobName=tf-ernerf-people-train JobState=FAILED Reason=NonZeroExitCode "
    "ExitCode=1:0\n"
)
SACCT = """1041|COMPLETED|0:0
1041.batch|COMPLETED|0:0
1042|FAILED|2:0
1043|CANCELLED by 0|0:0
"""


def test_squeue() -> None:
    found = parse_squeue(SQUEUE)
    assert found["1041"] == JobState("1041", "RUNNING")
    assert found["1042"] == JobState("1042", "PENDING", "Dependency")
    assert found["1050_[1-2%1]"].reason == "JobArrayTaskLimit" and not found["1050_0"].final


def test_scontrol_names_array_tasks_as_sbatch_does() -> None:
    cancelled, task = parse_scontrol(SCONTROL)
    assert cancelled == JobState("1043", "CANCELLED", "DependencyNeverSatisfied", "0:0")
    assert cancelled.final and cancelled.failed
    assert task.job_id == "1050_1" and task.state == "FAILED" and task.exit_code == "1:0"


def test_sacct_keeps_jobs_not_their_steps() -> None:
    states = parse_sacct(SACCT)
    assert [(s.job_id, s.state) for s in states] == [("1041", "COMPLETED"), ("1042", "FAILED"), ("1043", "CANCELLED")]
    assert not states[0].failed and states[1].failed


def test_gpu_flag_is_the_jobs_physical_gpus() -> None:
    assert gpu_flag(0, {"SLURM_JOB_GPUS": "3"}) == "CPU"
    assert gpu_flag(2, {"SLURM_JOB_GPUS": "2,5"}) == "GPU2,GPU5"
    assert gpu_flag(1, {"CUDA_VISIBLE_DEVICES": "1"}) == "GPU1"
    assert gpu_flag(2, {}) == "GPU0,GPU1"  # a cluster that sets neither: the first ones


def test_expand_names_this_jobs_files() -> None:
    env = {"SLURM_JOB_ID": "1052", "SLURM_ARRAY_JOB_ID": "1050", "SLURM_ARRAY_TASK_ID": "2"}
    assert this_jobs("/ws/slurm/people/01-train-%A_%a.log", env) == "/ws/slurm/people/01-train-1050_2.log"
    assert this_jobs("/ws/01-preprocess-%j.log", {"SLURM_JOB_ID": "7"}) == "/ws/01-preprocess-7.log"
    # status names an array task's files from the array's id, and a plain job's from its own
    assert expand("01-train.%a.exit", job_id="1050_2", array_id="1050", task=2) == "01-train.2.exit"
    assert expand("02-train-%j.log", job_id="1001") == "02-train-1001.log"
