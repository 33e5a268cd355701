#!/usr/bin/env bash
# The consumer test: proves the packages work for a project OUTSIDE this repository, where neither
# Directory.Build.props nor Directory.Packages.props (central versions, transitive pinning) applies.
#
#  1. Packs every project under src/ (Release, a unique version 0.1.0-ci.<time>.<pid>) into a local folder, and
#     checks that each declares every package it uses directly (.ci/dependency-audit).
#  2. Creates a fresh console project in a temporary folder outside the repository, with its own nuget.config that
#     adds that folder as a package source (the machine's default source stays: no <clear/>), referencing LlmKit,
#     LlmKit.ModelBuilder and the LlmKit.Plugins.* packages by that version.
#  3. Builds and runs it (.ci/consumer/Program.cs): every package's referenced assemblies load; stories260K is
#     converted and greedy generation must begin like llama2.c's reference text; the compression plugin runs.
#
# Prints one summary line "consumer test: passed|FAILED ..." and exits 0 or 1. Removes only what it created: its
# temporary folder and the LlmKit.* package folders of the unique version it put in the global packages folder.
#   usage: .ci/consumer-test.sh        (LLMKIT_SHARED overrides ../shared)
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
shared="${LLMKIT_SHARED:-$repo/../shared}"
model="$shared/models/stories260K"

fail() {
  echo "consumer test: FAILED: $*"
  exit 1
}

[ -f "$model/stories260K.bin" ] && [ -f "$model/tok512.bin" ] ||
  fail "missing fixture $model/stories260K.bin or tok512.bin (place shared/ beside the repository or set LLMKIT_SHARED)"

version="0.1.0-ci.$(date -u +%Y%m%d%H%M%S).$$"
global_packages="$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: *//p')"
global_packages="${global_packages%/}"
[ -n "$global_packages" ] || fail "cannot find the NuGet global packages folder"

mapfile -t projects < <(cd "$repo" && find src -name '*.csproj' | sort)
ids=()
for p in "${projects[@]}"; do
  ids+=("$(basename "$p" .csproj)")
done

# Package-id folders of the global packages folder that this run creates (so only those are removed afterwards).
created_dirs=()
for id in "${ids[@]}"; do
  lower="$(tr '[:upper:]' '[:lower:]' <<<"$id")"
  [ -d "$global_packages/$lower" ] || created_dirs+=("$global_packages/$lower")
done

work=""
cleanup() {
  for id in "${ids[@]}"; do
    lower="$(tr '[:upper:]' '[:lower:]' <<<"$id")"
    # This version is unique to this run: its folders were made by this run's restore.
    [ -d "$global_packages/$lower/$version" ] && rm -rf -- "${global_packages:?}/$lower/$version"
  done
  for dir in "${created_dirs[@]}"; do
    [ -d "$dir" ] && rmdir -- "$dir" 2>/dev/null
  done
  [ -n "$work" ] && rm -rf -- "$work"
}
trap cleanup EXIT
work="$(mktemp -d "${TMPDIR:-/tmp}/llmkit-consumer.XXXXXX")" || fail "cannot create a temporary folder"
case "$work" in "$repo"/*) fail "temporary folder $work is inside the repository";; esac

log="$work/log"
mkdir -p "$log" "$work/packages" "$work/consumer" "$work/scratch"

# 1. Pack: a solution filter with exactly the projects under src/.
{
  printf '{ "solution": { "path": "%s", "projects": [' "$repo/LlmKit.sln"
  sep=""
  for p in "${projects[@]}"; do
    printf '%s"%s"' "$sep" "$p"
    sep=", "
  done
  printf '] } }\n'
} >"$work/packages.slnf"

start=$SECONDS
if ! dotnet pack "$work/packages.slnf" -c Release -o "$work/packages" -p:Version="$version" -nologo >"$log/pack.txt" 2>&1; then
  { grep -E ': error ' "$log/pack.txt" || grep -E 'warning' "$log/pack.txt"; } | sort -u | head -n 20
  fail "dotnet pack failed"
fi
pack_seconds=$((SECONDS - start))
for id in "${ids[@]}"; do
  [ -f "$work/packages/$id.$version.nupkg" ] || fail "pack did not produce $id.$version.nupkg"
done

# Every package declares what it uses directly (central transitive pinning hides a gap inside the repository).
start=$SECONDS
mkdir -p "$work/audit"
cp "$repo/.ci/dependency-audit/DependencyAudit.csproj" "$repo/.ci/dependency-audit/Program.cs" "$work/audit/"
if ! dotnet build "$work/audit/DependencyAudit.csproj" -c Release -o "$work/audit/out" -nologo \
  -p:ImportDirectoryBuildProps=false -p:ImportDirectoryBuildTargets=false -p:ImportDirectoryPackagesProps=false \
  >"$log/audit-build.txt" 2>&1; then
  grep -E 'error|warning' "$log/audit-build.txt" | sort -u | head -n 20
  fail "the dependency audit did not build"
fi
(cd "$repo" && dotnet "$work/audit/out/DependencyAudit.dll" Release "${projects[@]}") ||
  fail "a package uses a dependency it does not declare"
audit_seconds=$((SECONDS - start))

# 2. The consumer project, outside the repository.
sed "s/@LLMKIT_VERSION@/$version/g" "$repo/.ci/consumer/Consumer.csproj.template" >"$work/consumer/Consumer.csproj"
cp "$repo/.ci/consumer/Program.cs" "$work/consumer/Program.cs"
cat >"$work/consumer/nuget.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<!-- Adds the freshly packed LlmKit packages; the machine's default source stays for their dependencies. -->
<configuration>
  <packageSources>
    <add key="llmkit-local" value="$work/packages" />
  </packageSources>
</configuration>
EOF

start=$SECONDS
# Belt and braces: even if a Directory.Build.props or Directory.Packages.props sat above the temporary folder, the
# consumer must not import it.
if ! dotnet build "$work/consumer/Consumer.csproj" -c Release -o "$work/consumer/out" -nologo \
  -p:ImportDirectoryBuildProps=false -p:ImportDirectoryBuildTargets=false -p:ImportDirectoryPackagesProps=false \
  >"$log/build.txt" 2>&1; then
  grep -E 'error|warning' "$log/build.txt" | sort -u | head -n 20
  fail "the consumer project did not restore or build against the packages"
fi
build_seconds=$((SECONDS - start))

# 3. Run it.
start=$SECONDS
(cd "$work/consumer" && dotnet out/Consumer.dll "$model" "$work/scratch")
status=$?
run_seconds=$((SECONDS - start))
[ "$status" -eq 0 ] || fail "the consumer program exited $status"

echo "consumer test: passed (${#ids[@]} packages $version; pack ${pack_seconds} s, dependency audit ${audit_seconds} s, restore+build ${build_seconds} s, run ${run_seconds} s)"
exit 0
