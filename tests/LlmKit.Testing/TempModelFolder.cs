using System.Text.Json.Nodes;

namespace LlmKit.Testing;

/// <summary>
/// A private copy of a model folder in the temp directory, for tests that edit its files (genai_config.json above all);
/// deleted on dispose. The source folder is never touched.
/// </summary>
public sealed class TempModelFolder : IDisposable
{
    private TempModelFolder(string path) => Path = path;

    /// <summary>The copy's full path.</summary>
    public string Path { get; }

    /// <summary>The copy's genai_config.json.</summary>
    public string ConfigPath => System.IO.Path.Combine(Path, "genai_config.json");

    /// <summary>Copies the files (not subfolders) of <paramref name="source"/> into a new temp folder.</summary>
    /// <param name="source">A model folder.</param>
    public static TempModelFolder CopyOf(string source)
    {
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "llmkit-model-copies", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        foreach (var file in Directory.GetFiles(source))
        {
            File.Copy(file, System.IO.Path.Combine(path, System.IO.Path.GetFileName(file)));
        }

        return new TempModelFolder(path);
    }

    /// <summary>Rewrites genai_config.json after <paramref name="edit"/> changed its JSON tree.</summary>
    /// <param name="edit">Changes the parsed document in place.</param>
    public void EditConfig(Action<JsonNode> edit)
    {
        ArgumentNullException.ThrowIfNull(edit);
        var node = JsonNode.Parse(File.ReadAllText(ConfigPath))!;
        edit(node);
        File.WriteAllText(ConfigPath, node.ToJsonString());
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}
