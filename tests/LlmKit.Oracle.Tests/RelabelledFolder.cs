using System.Text.Json.Nodes;

namespace LlmKit.Oracle.Tests;

/// <summary>A temporary copy of a model folder with another <c>model.type</c> in its genai_config.json.</summary>
internal sealed class RelabelledFolder : IDisposable
{
    private RelabelledFolder(string path) => Path = path;

    public string Path { get; }

    public static RelabelledFolder Create(string source, string type)
    {
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "llmkit-oracle-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        foreach (var file in Directory.GetFiles(source))
        {
            File.Copy(file, System.IO.Path.Combine(path, System.IO.Path.GetFileName(file)));
        }

        string configPath = System.IO.Path.Combine(path, "genai_config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!;
        config["model"]!["type"] = type;
        File.WriteAllText(configPath, config.ToJsonString());
        return new RelabelledFolder(path);
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
