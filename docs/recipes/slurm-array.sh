#!/bin/sh
# sbatch slurm-array.sh: 16 shards as a Slurm array, then
#   sbatch --dependency=afterok:<jobid> --wrap 'phiscan merge --output-dir merged out/shard-*/'
#SBATCH --job-name=phiscan
#SBATCH --array=0-15
#SBATCH --cpus-per-task=4
#SBATCH --time=12:00:00
# PHISCAN_FINGERPRINT_KEY must be the same for every task (exported from a
# file only the auditor can read).
. "$HOME/.phiscan-key.env"
export PHISCAN_FINGERPRINT_KEY
exec phiscan scan /mnt/mirror --shard "${SLURM_ARRAY_TASK_ID}/16" --split-depth 2 \
    --threads "${SLURM_CPUS_PER_TASK}" --format csv,jsonl \
    --output-dir "out/shard-${SLURM_ARRAY_TASK_ID}" \
    --resume "out/shard-${SLURM_ARRAY_TASK_ID}.state"
