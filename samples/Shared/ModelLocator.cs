using System.Security.Cryptography;
using LlmKit.ModelBuilder;

namespace LlmKit.Samples.Shared;

/// <summary>
/// Finds the model folder: --model, else $LLMKIT_MODEL, else the stories260K fixture from <c>$LLMKIT_SHARED/models/stories260K</c>
/// or <c>../shared/models/stories260K</c> (beside the folder holding LlmKit.sln) converted once into a cache folder.
/// </summary>
/// <remarks>Shared by the ChatAgent and PluginAgent samples: each compiles this file as a link (samples/Shared).</remarks>
internal static class ModelLocator
{
    public const string EnvironmentVariable = "LLMKIT_MODEL";

    public static string NotFoundHelp =>
        "No model found. Pass --model DIR or set LLMKIT_MODEL to an ONNX GenAI model folder (genai_config.json, model.onnx, tokenizer), " +
        "for example a cpu-int4 folder of microsoft/Phi-3-mini-4k-instruct-onnx or of a Qwen 2.5 ONNX GenAI build from Hugging Face. " +
        "Inside the LlmKit repository the stories260K fixture in ../shared/models/stories260K is used by default.";

    /// <summary>Resolves the folder; <paramref name="progress"/> hears about a first-run conversion.</summary>
    /// <exception cref="FileNotFoundException">No model could be found; the message says how to point at one.</exception>
    public static string Resolve(string? modelPath, Action<string> progress)
    {
        if (!string.IsNullOrWhiteSpace(modelPath))
        {
            return Path.GetFullPath(modelPath);
        }

        string? fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return Path.GetFullPath(fromEnvironment);
        }

        string? fixture = FindStories260K() ?? throw new FileNotFoundException(NotFoundHelp);
        return ConvertOnce(Path.Combine(fixture, "stories260K.bin"), Path.Combine(fixture, "tok512.bin"), progress);
    }

    private static string? FindStories260K()
    {
        // $LLMKIT_SHARED names the shared folder outright (as in the test fixtures); otherwise ../shared beside the repository.
        string? shared = Environment.GetEnvironmentVariable("LLMKIT_SHARED");
        var candidates = new List<string>();
        if (!string.IsNullOrWhiteSpace(shared))
        {
            candidates.Add(Path.Combine(shared, "models", "stories260K"));
            return Complete(candidates[0]) ? candidates[0] : null;
        }

        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            if (FindRepositoryRoot(start) is { } root)
            {
                candidates.Add(Path.GetFullPath(Path.Combine(root, "..", "shared", "models", "stories260K")));
            }
        }

        return candidates.FirstOrDefault(Complete);
    }

    private static bool Complete(string folder) => File.Exists(Path.Combine(folder, "stories260K.bin")) && File.Exists(Path.Combine(folder, "tok512.bin"));

    private static string? FindRepositoryRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LlmKit.sln")))
            {
                return dir.FullName;
            }
        }

        return null;
    }

    // The folder name hashes the inputs and the converter build, so a changed checkpoint or builder never reuses a stale folder.
    private static string ConvertOnce(string checkpoint, string tokenizer, Action<string> progress)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(File.ReadAllBytes(checkpoint));
        sha.AppendData(File.ReadAllBytes(tokenizer));
        sha.AppendData(typeof(Llama2cConverter).Assembly.ManifestModule.ModuleVersionId.ToByteArray());
        string hash = Convert.ToHexString(sha.GetHashAndReset())[..16].ToLowerInvariant();

        // Entries of older builds are deleted once unused for 14 days.
        var cache = new ConvertedModelCache(Path.Combine(CacheHome(), "llmkit", "models"));
        return cache.GetOrCreate($"stories260K-{hash}", staging =>
        {
            progress($"Converting stories260K into {Path.Combine(cache.Root, $"stories260K-{hash}")} (first run only)");
            Llama2cConverter.Convert(new Llama2cConversionRequest(checkpoint, tokenizer, staging));
        });
    }

    private static string CacheHome()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        return !string.IsNullOrWhiteSpace(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
    }
}
