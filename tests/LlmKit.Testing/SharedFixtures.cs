namespace LlmKit.Testing;

/// <summary>
/// Locates the read-only fixtures in <c>../shared</c> (beside the repository root). A missing fixture
/// fails the test with a message saying what is missing and where it was looked for: tests never skip silently.
/// </summary>
public static class SharedFixtures
{
    private static readonly Lazy<string> SharedRoot = new(FindSharedRoot);

    /// <summary>The repository root (the folder holding LlmKit.sln).</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>The shared folder: <c>$LLMKIT_SHARED</c> when set, else <c>../shared</c> beside the repository root.</summary>
    public static string Root => SharedRoot.Value;

    /// <summary>Full path of a file under the shared folder; throws a clear error when it does not exist.</summary>
    /// <param name="relativePath">Path relative to the shared folder, e.g. <c>models/stories260K/stories260K.bin</c>.</param>
    public static string File(string relativePath)
    {
        string path = Path.Combine(Root, relativePath);
        if (!System.IO.File.Exists(path))
        {
            throw new FileNotFoundException(
                $"Test fixture '{relativePath}' is missing: expected it at '{path}'. " +
                "Tests read fixtures from ../shared beside the repository (or from $LLMKIT_SHARED).", path);
        }

        return path;
    }

    /// <summary>The stories260K checkpoint (llama2.c format).</summary>
    public static string Stories260KCheckpoint => File("models/stories260K/stories260K.bin");

    /// <summary>The stories260K tokenizer (llama2.c tok512.bin format).</summary>
    public static string Stories260KTokenizer => File("models/stories260K/tok512.bin");

    /// <summary>
    /// The public reference output of llama2.c for stories260K (greedy, prompt "Once upon a time"),
    /// as printed in the shared model README. Tests compare generated text against it.
    /// </summary>
    public const string Stories260KReferenceText =
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. " +
        "One day, she saw a big, red ball. She wanted to play with it, but it was too high.\n" +
        "Lily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do.";

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "LlmKit.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"Could not find LlmKit.sln above '{AppContext.BaseDirectory}'.");
    }

    private static string FindSharedRoot()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("LLMKIT_SHARED");
        string candidate = string.IsNullOrEmpty(fromEnvironment)
            ? Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared"))
            : Path.GetFullPath(fromEnvironment);
        if (!Directory.Exists(candidate))
        {
            throw new DirectoryNotFoundException(
                $"The shared fixtures folder is missing: looked for '{candidate}'. " +
                "Place the project's shared/ folder beside the repository root or set LLMKIT_SHARED.");
        }

        return candidate;
    }
}
