#!/usr/bin/env bash
# Regenerates ../Generated/*.g.cs from the .proto files in this folder.
# protoc comes from the Google.Protobuf.Tools package, which the project references with
# ExcludeAssets=all only so that `dotnet restore` downloads it. Run from anywhere:
#   dotnet restore src/Sdk/LlmKit.ModelBuilder && src/Sdk/LlmKit.ModelBuilder/Protos/regenerate.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="$(grep -oP 'Include="Google.Protobuf.Tools" Version="\K[^"]+' "$here/../../../../Directory.Packages.props")"
protoc="${NUGET_PACKAGES:-$HOME/.nuget/packages}/google.protobuf.tools/$version/tools/linux_x64/protoc"
chmod +x "$protoc" 2>/dev/null || true
out="$here/../Generated"
mkdir -p "$out"
"$protoc" --proto_path="$here" --csharp_out="$out" --csharp_opt=file_extension=.g.cs,internal_access \
  onnx.proto sentencepiece_model.proto
echo "generated: $(ls "$out")"
