using System.Text.Json;
using LlmKit.Embeddings.Tokenization;

namespace LlmKit.Embeddings;

/// <summary>Reads the settings a sentence-transformers / Hugging Face folder carries beside <c>model.onnx</c>.</summary>
internal sealed record SentenceTransformersFolder
{
    /// <summary>Largest settings file read (bytes); larger ones are rejected before allocation.</summary>
    public const long MaxSettingsFileBytes = 1024 * 1024;

    public EmbeddingPoolingMode? PoolingMode { get; init; }

    public bool? Normalize { get; init; }

    public int? MaxSequenceLength { get; init; }

    public bool? DoLowerCase { get; init; }

    public int? WordEmbeddingDimension { get; init; }

    /// <summary>Reads what is present in <paramref name="directory"/>; files that are absent leave their settings null.</summary>
    public static SentenceTransformersFolder Read(string directory)
    {
        var result = new SentenceTransformersFolder();
        string? poolingPath = null;
        string modulesPath = Path.Combine(directory, "modules.json");
        if (File.Exists(modulesPath))
        {
            using var modules = ReadJson(modulesPath);
            if (modules.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidDataException($"'{modulesPath}' must be a JSON array of modules.");
            }

            bool normalize = false;
            foreach (var module in modules.RootElement.EnumerateArray())
            {
                string type = module.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
                string path = module.TryGetProperty("path", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : "";
                if (type.EndsWith(".Pooling", StringComparison.Ordinal))
                {
                    poolingPath = Path.Combine(directory, path, "config.json");
                }
                else if (type.EndsWith(".Normalize", StringComparison.Ordinal))
                {
                    normalize = true;
                }
                else if (type.EndsWith(".Dense", StringComparison.Ordinal))
                {
                    throw new NotSupportedException(
                        $"'{modulesPath}' lists a Dense module ('{path}'): a projection after pooling is not supported; export it into the ONNX graph.");
                }
            }

            result = result with { Normalize = normalize };
        }
        else if (File.Exists(Path.Combine(directory, "1_Pooling", "config.json")))
        {
            poolingPath = Path.Combine(directory, "1_Pooling", "config.json");
        }

        if (poolingPath is not null && File.Exists(poolingPath))
        {
            result = result with { PoolingMode = ReadPooling(poolingPath, out int? dimension), WordEmbeddingDimension = dimension };
        }

        string sentenceBertConfig = Path.Combine(directory, "sentence_bert_config.json");
        if (File.Exists(sentenceBertConfig))
        {
            using var config = ReadJson(sentenceBertConfig);
            if (config.RootElement.ValueKind == JsonValueKind.Object
                && config.RootElement.TryGetProperty("max_seq_length", out var max) && max.TryGetInt32(out int maxLength))
            {
                result = result with { MaxSequenceLength = maxLength };
            }
        }

        string tokenizerConfig = Path.Combine(directory, "tokenizer_config.json");
        if (File.Exists(tokenizerConfig))
        {
            using var config = ReadJson(tokenizerConfig);
            var root = config.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (root.TryGetProperty("do_lower_case", out var lower) && lower.ValueKind is JsonValueKind.True or JsonValueKind.False)
                {
                    result = result with { DoLowerCase = lower.ValueKind == JsonValueKind.True };
                }

                // model_max_length is often a huge sentinel (1e30) when unset; only a plausible value counts.
                if (result.MaxSequenceLength is null && root.TryGetProperty("model_max_length", out var modelMax)
                    && modelMax.TryGetInt64(out long value) && value is >= 3 and <= 8192)
                {
                    result = result with { MaxSequenceLength = (int)value };
                }
            }
        }

        return result;
    }

    private static EmbeddingPoolingMode ReadPooling(string path, out int? dimension)
    {
        using var config = ReadJson(path);
        var root = config.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"'{path}' must be a JSON object.");
        }

        dimension = root.TryGetProperty("word_embedding_dimension", out var d) && d.TryGetInt32(out int dim) ? dim : null;
        bool Flag(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
        var modes = new List<EmbeddingPoolingMode>();
        if (Flag("pooling_mode_cls_token"))
        {
            modes.Add(EmbeddingPoolingMode.Cls);
        }

        if (Flag("pooling_mode_mean_tokens"))
        {
            modes.Add(EmbeddingPoolingMode.Mean);
        }

        if (Flag("pooling_mode_max_tokens"))
        {
            modes.Add(EmbeddingPoolingMode.Max);
        }

        foreach (var unsupported in new[] { "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken" })
        {
            if (Flag(unsupported))
            {
                throw new NotSupportedException($"'{path}' sets {unsupported}; supported pooling modes are cls, mean and max.");
            }
        }

        return modes.Count == 1
            ? modes[0]
            : throw new NotSupportedException($"'{path}' selects {modes.Count} pooling modes; exactly one of cls, mean or max is supported.");
    }

    private static JsonDocument ReadJson(string path)
    {
        long length = new FileInfo(path).Length;
        if (length > MaxSettingsFileBytes)
        {
            throw new InvalidDataException($"'{path}' has {length} bytes; settings files of at most {MaxSettingsFileBytes} are read.");
        }

        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { MaxDepth = 32, AllowTrailingCommas = true });
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"'{path}' is not valid JSON: {ex.Message}", ex);
        }
    }

    /// <summary>Loads the tokenizer of a folder: <c>tokenizer.json</c> when present, else <c>vocab.txt</c>.</summary>
    public static WordPieceTokenizer LoadTokenizer(string vocabOrTokenizerPath, bool? caseSensitive, bool? folderLowerCase)
    {
        if (string.Equals(Path.GetFileName(vocabOrTokenizerPath), "tokenizer.json", StringComparison.OrdinalIgnoreCase)
            || string.Equals(Path.GetExtension(vocabOrTokenizerPath), ".json", StringComparison.OrdinalIgnoreCase))
        {
            var fromJson = WordPieceTokenizer.FromTokenizerJson(vocabOrTokenizerPath);
            if (caseSensitive is { } cased && cased == fromJson.LowerCase)
            {
                throw new ArgumentException(
                    $"CaseSensitive = {cased} contradicts '{vocabOrTokenizerPath}', whose normalizer {(fromJson.LowerCase ? "lower-cases" : "keeps case")}. Leave CaseSensitive unset to follow the file.",
                    nameof(caseSensitive));
            }

            return fromJson;
        }

        bool lower = caseSensitive is { } c ? !c : folderLowerCase ?? true;
        return WordPieceTokenizer.FromVocabFile(vocabOrTokenizerPath, new WordPieceTokenizerOptions { LowerCase = lower });
    }
}
