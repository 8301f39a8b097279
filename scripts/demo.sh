#!/usr/bin/env bash
# Set everything up, then validate, plan and apply the example models against the
# embedded local registry (.mrp/registry). Safe to run again: the second run changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="[bench]" source scripts/setup.sh

echo "== mrp validate"
mrp validate
echo "== mrp plan"
mrp plan
echo "== mrp apply --yes"
mrp apply --yes
echo "== mrp plan --detailed-exitcode (0: the registry matches the manifests)"
mrp plan --detailed-exitcode
