using System.Text.Json;

namespace LlmKit.ModelBuilder.HuggingFace;

/// <summary>
/// The tensors of a Hugging Face checkpoint folder: <c>model.safetensors</c>, or the shards listed in
/// <c>model.safetensors.index.json</c>. Shard names must be plain file names inside the folder (no separators, no
/// "..", no rooted paths), so an index cannot make the reader open files elsewhere. Tensors are read one at a time.
/// Immutable after <see cref="Open"/>; safe for concurrent readers.
/// </summary>
internal sealed class SafetensorsCheckpoint
{
    /// <summary>The single-file checkpoint name.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>The shard index name.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    private const long MaxIndexBytes = 64L << 20;

    private readonly Dictionary<string, SafetensorsTensor> _tensors;

    private SafetensorsCheckpoint(string folder, Dictionary<string, SafetensorsTensor> tensors, IReadOnlyList<SafetensorsFile> files)
    {
        Folder = folder;
        _tensors = tensors;
        Files = files;
    }

    /// <summary>The checkpoint folder.</summary>
    public string Folder { get; }

    /// <summary>The safetensors files read.</summary>
    public IReadOnlyList<SafetensorsFile> Files { get; }

    /// <summary>Every tensor name.</summary>
    public IEnumerable<string> Names => _tensors.Keys;

    /// <summary>Opens the checkpoint in <paramref name="folder"/>.</summary>
    /// <exception cref="FileNotFoundException">Neither model.safetensors nor model.safetensors.index.json exists, or a listed shard is missing.</exception>
    /// <exception cref="InvalidDataException">The index or a shard is malformed, a shard name escapes the folder, or a tensor appears twice.</exception>
    public static SafetensorsCheckpoint Open(string folder)
    {
        string root = Path.GetFullPath(folder);
        string index = Path.Combine(root, IndexFileName);
        string single = Path.Combine(root, SingleFileName);
        string[] shards;
        Dictionary<string, string>? expectedShard = null;
        if (File.Exists(index))
        {
            (shards, expectedShard) = ReadIndex(root, index);
        }
        else if (File.Exists(single))
        {
            shards = [SingleFileName];
        }
        else
        {
            throw new FileNotFoundException($"'{root}' holds neither {SingleFileName} nor {IndexFileName}; a Hugging Face checkpoint in safetensors form is needed.", single);
        }

        var files = new List<SafetensorsFile>();
        var tensors = new Dictionary<string, SafetensorsTensor>(StringComparer.Ordinal);
        foreach (string shard in shards)
        {
            var file = SafetensorsFile.Open(Path.Combine(root, shard));
            files.Add(file);
            foreach (var (name, tensor) in file.Tensors)
            {
                if (!tensors.TryAdd(name, tensor))
                {
                    throw new InvalidDataException($"Tensor '{name}' appears in both '{tensors[name].FilePath}' and '{tensor.FilePath}'.");
                }
            }
        }

        if (expectedShard is not null)
        {
            foreach (var (name, shard) in expectedShard)
            {
                if (!tensors.TryGetValue(name, out var tensor) || Path.GetFileName(tensor.FilePath) != shard)
                {
                    throw new InvalidDataException($"{IndexFileName} places tensor '{name}' in '{shard}', which does not hold it.");
                }
            }
        }

        return new SafetensorsCheckpoint(root, tensors, files);
    }

    /// <summary>True when the checkpoint has a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>The header entry of <paramref name="name"/>.</summary>
    /// <exception cref="InvalidDataException">No such tensor (the message names it and the folder).</exception>
    public SafetensorsTensor Tensor(string name) =>
        _tensors.TryGetValue(name, out var tensor)
            ? tensor
            : throw new InvalidDataException($"The checkpoint in '{Folder}' has no tensor '{name}'.");

    /// <summary>Reads <paramref name="name"/> as float32 after checking its shape is <paramref name="shape"/>.</summary>
    /// <exception cref="InvalidDataException">The tensor is missing or has another shape.</exception>
    public float[] ReadFloat32(string name, params long[] shape)
    {
        var tensor = Tensor(name);
        if (!tensor.Shape.AsSpan().SequenceEqual(shape))
        {
            throw new InvalidDataException($"Tensor '{name}' has shape {tensor.ShapeText}; config.json implies [{string.Join(", ", shape)}].");
        }

        var data = new float[tensor.ElementCount];
        SafetensorsFile.ReadFloat32(tensor, data);
        return data;
    }

    private static (string[] Shards, Dictionary<string, string> Map) ReadIndex(string root, string index)
    {
        long length = new FileInfo(index).Length;
        if (length > MaxIndexBytes)
        {
            throw new InvalidDataException($"'{index}' is {length:N0} bytes, more than the {MaxIndexBytes:N0}-byte limit for a shard index.");
        }

        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(index));
            if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"'{index}' has no weight_map object.");
            }

            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            var shards = new List<string>();
            foreach (var entry in map.EnumerateObject())
            {
                string shard = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString()! : throw new InvalidDataException($"'{index}': weight_map['{entry.Name}'] must be a file name.");
                CheckShardName(root, index, shard);
                result[entry.Name] = shard;
                if (!shards.Contains(shard, StringComparer.Ordinal))
                {
                    shards.Add(shard);
                }
            }

            if (shards.Count == 0)
            {
                throw new InvalidDataException($"'{index}': weight_map is empty.");
            }

            return ([.. shards], result);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{index}' is not valid JSON ({e.Message}).", e);
        }
    }

    // A shard is a plain file name that resolves directly inside the folder: "../x", "/etc/x", "sub/x" are refused.
    private static void CheckShardName(string root, string index, string shard)
    {
        bool plain = shard.Length > 0
            && shard.IndexOfAny(['/', '\\', '\0']) < 0
            && shard != "." && shard != ".."
            && !Path.IsPathRooted(shard)
            && Path.GetFileName(shard) == shard;
        string resolved = Path.GetFullPath(Path.Combine(root, shard));
        if (!plain || !string.Equals(Path.GetDirectoryName(resolved), root, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"'{index}' lists shard '{shard}', which is not a file name inside '{root}'; shards must sit beside the index.");
        }

        // A symbolic link named like a shard must not lead out of the folder either.
        if (File.Exists(resolved) && File.ResolveLinkTarget(resolved, returnFinalTarget: true) is { } target
            && !string.Equals(Path.GetDirectoryName(Path.GetFullPath(target.FullName)), root, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"'{index}' lists shard '{shard}', a link to '{target.FullName}' outside '{root}'; shards must sit beside the index.");
        }
    }
}
