namespace LlmKit.Embeddings.Tests;

/// <summary>Locates the repository's test data and the shared fixtures; a missing file fails with its path, never skips.</summary>
internal static class Fixtures
{
    public static string TestData(string name)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "TestData", name);
        return File.Exists(path) ? path : throw new FileNotFoundException($"Test data '{name}' is missing: expected '{path}'.", path);
    }

    public static string Shared(string relativePath)
    {
        string? root = Environment.GetEnvironmentVariable("LLMKIT_SHARED");
        if (string.IsNullOrEmpty(root))
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LlmKit.sln")))
            {
                dir = dir.Parent;
            }

            root = dir is null
                ? throw new InvalidOperationException($"Could not find LlmKit.sln above '{AppContext.BaseDirectory}'.")
                : Path.Combine(dir.FullName, "..", "shared");
        }

        string path = Path.GetFullPath(Path.Combine(root, relativePath));
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"Shared fixture '{relativePath}' is missing: expected '{path}' (set LLMKIT_SHARED to relocate).", path);
    }

    /// <summary>The sentences (without labels) of a sentiment-sentences file.</summary>
    public static string[] Sentences(string file)
    {
        var result = new List<string>();
        foreach (var line in File.ReadLines(Shared($"datasets/sentiment-sentences/{file}")))
        {
            int tab = line.LastIndexOf('\t');
            if (tab > 0)
            {
                result.Add(line[..tab]);
            }
        }

        return [.. result];
    }
}
