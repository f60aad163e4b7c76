#!/usr/bin/env bash
# Install a single-node Slurm with accounting (Debian packages): slurm-wlm, slurmdbd, munge,
# MariaDB. Needs root; does nothing when they are already installed.
set -euo pipefail
if command -v slurmctld >/dev/null && command -v slurmdbd >/dev/null \
    && command -v munged >/dev/null && command -v mariadbd >/dev/null; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    slurm-wlm slurmdbd slurm-client munge mariadb-server >/dev/null
