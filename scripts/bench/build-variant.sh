#!/usr/bin/env bash
# Builds another scopegate for the bench's A/B phase: a git worktree of <ref> in <folder>, this checkout's
# node_modules linked into it, an optional patch applied (e.g. scripts/bench/variants/fixed-answer.patch), and
# `npm run build`; prints the dist folder to give to `npm run bench -- --only ab --baseline|--candidate <it>`.
#   bash scripts/bench/build-variant.sh <ref> <folder> [<patch>]
# Remove it afterwards with `git worktree remove --force <folder>`.
set -euo pipefail
if [[ $# -lt 2 || $# -gt 3 ]]; then
  echo "usage: build-variant.sh <ref> <folder> [<patch>]" >&2
  exit 2
fi
ref=$1
folder=$2
patch=${3:-}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[[ -n $patch ]] && patch=$(cd "$(dirname "$patch")" && pwd)/$(basename "$patch")
if [[ -e $folder ]]; then
  echo "build-variant.sh: $folder exists; remove it first (git worktree remove --force $folder)" >&2
  exit 2
fi
git -C "$root" worktree add --detach --quiet "$folder" "$ref"
ln -s "$root/node_modules" "$folder/node_modules"
if [[ -n $patch ]]; then git -C "$folder" apply "$patch"; fi
(cd "$folder" && npm run --silent build >/dev/null)
echo "$(cd "$folder" && pwd)/dist"
