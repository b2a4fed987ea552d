#!/usr/bin/env bash
# Runs a local autograder: ./grade.sh 1b  (HW1 Bonus: Adam, Dropout, BatchNorm)
set -euo pipefail
cd "$(dirname "$0")"
case "${1:-}" in
  1b) exec "${PYTHON:-python3}" ./autograder/hw1_bonus_autograder/runner.py ;;
  *) echo "usage: ./grade.sh 1b" >&2; exit 2 ;;
esac
