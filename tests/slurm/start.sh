#!/usr/bin/env bash
# Start a single-node Slurm on this machine for kpbench's Slurm tests: munged, MariaDB,
# slurmdbd (accounting: submitit needs sacct to see cancelled and killed jobs), slurmctld and
# slurmd, in that order, each waited for. Needs root and tests/slurm/install.sh's packages.
# The daemons run in the background; tests/slurm/stop.sh stops them by their PID files.
#
# Configuration goes to /etc/slurm (the path every Slurm command reads by default); a
# slurm.conf that this script did not write is never overwritten. State, logs and PID files
# go to $KPBENCH_SLURM_DIR (default /tmp/kpbench-slurm).
set -euo pipefail
DIR="${KPBENCH_SLURM_DIR:-/tmp/kpbench-slurm}"
CONF=/etc/slurm
MARK="# written by kpbench tests/slurm/start.sh"
NODE="$(hostname -s)"

if [[ -f "$CONF/slurm.conf" ]] && ! grep -qF "$MARK" "$CONF/slurm.conf"; then
    echo "start.sh: $CONF/slurm.conf exists and was not written by kpbench; not touching it" >&2
    exit 2
fi
if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "start.sh: Slurm is already up"
    exit 0
fi

wait_for() {  # wait_for SECONDS WHAT COMMAND...
    local limit=$1 what=$2
    shift 2
    for _ in $(seq "$((limit * 4))"); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.25
    done
    echo "start.sh: $what did not come up within ${limit}s (logs in $DIR)" >&2
    exit 1
}

mkdir -p "$DIR"/{state,spool,log} "$CONF"

# --- munge (authentication between the daemons and the commands)
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
chmod 0755 /run/munge
if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
if ! pgrep -x munged >/dev/null; then
    runuser -u munge -- munged --force
fi
wait_for 20 munged bash -c 'munge -n | unmunge'

# --- MariaDB, the accounting database
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
if [[ ! -d /var/lib/mysql/mysql ]]; then
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
fi
if ! mariadb-admin ping >/dev/null 2>&1; then
    (mariadbd --user=mysql --datadir=/var/lib/mysql --socket=/run/mysqld/mysqld.sock \
        --pid-file=/run/mysqld/mysqld.pid --skip-networking=0 --bind-address=127.0.0.1 \
        >"$DIR/log/mariadbd.log" 2>&1 &)
fi
wait_for 60 MariaDB mariadb-admin ping
mariadb -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'kpbench';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"

# --- configuration
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
cat >"$CONF/slurm.conf" <<CONFEOF
$MARK
ClusterName=kpbench
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# No cgroups on this kind of machine: track processes by their parent, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
# Without a default, a job that asks for no memory is given the whole node.
DefMemPerCPU=$(( MEM_MB / $(nproc) ))
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=2
# No cgroups: the accounting poller kills a job over its memory (what cgroups do elsewhere).
JobAcctGatherParams=OverMemoryKill
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
MpiDefault=none
ReturnToService=2
MinJobAge=30
KillWait=5
SlurmdTimeout=30
NodeName=$NODE CPUs=$(nproc) RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONFEOF
cat >"$CONF/slurmdbd.conf" <<CONFEOF
$MARK
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=$DIR/slurmdbd.pid
LogFile=$DIR/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=kpbench
StorageLoc=slurm_acct_db
CONFEOF
chmod 0600 "$CONF/slurmdbd.conf"

# --- the Slurm daemons
pgrep -x slurmdbd >/dev/null || slurmdbd
wait_for 60 slurmdbd sacctmgr -n list cluster
sacctmgr -i -Q add cluster kpbench >/dev/null 2>&1 || true
pgrep -x slurmctld >/dev/null || slurmctld
wait_for 60 slurmctld scontrol ping
pgrep -x slurmd >/dev/null || slurmd
wait_for 60 "node $NODE" bash -c "sinfo -h -n $NODE -o %T | grep -qE '^(idle|mixed|allocated)'"
echo "start.sh: Slurm is up (node $NODE, logs in $DIR/log)"
