#!/bin/sh
# The worker container's entrypoint. It starts as root for one thing: to give the non-root worker a
# cgroup subtree of its own (/sys/fs/cgroup/grader, delegated as the kernel defines it: the folder
# and its cgroup.procs, cgroup.subtree_control and cgroup.threads belong to the worker's user). Each
# sandbox then gets a cgroup of its own in that subtree, limiting the memory, processes and CPU of a
# handin's whole process tree. It then drops every privilege and capability and runs the command.
# Needs `cgroup: private` (the container's own cgroup namespace) and CAP_SYS_ADMIN to remount the
# container's cgroupfs writable: see the worker in docker-compose.yml.
set -eu
cgroups=/sys/fs/cgroup
mount -o remount,rw "$cgroups"
# No process may stay in a cgroup whose children get controllers: move everyone to a leaf first.
mkdir -p "$cgroups/init" "$cgroups/grader"
for pid in $(cat "$cgroups/cgroup.procs"); do
  echo "$pid" > "$cgroups/init/cgroup.procs" 2>/dev/null || true
done
echo "+memory +pids" > "$cgroups/cgroup.subtree_control"
for file in "" /cgroup.procs /cgroup.subtree_control /cgroup.threads; do
  chown grader:grader "$cgroups/grader$file"
done
echo $$ > "$cgroups/grader/cgroup.procs"
exec setpriv --reuid=grader --regid=grader --init-groups --inh-caps=-all --bounding-set=-all -- "$@"
