using System.Text.Json;

namespace LlmKit.Models;

/// <summary>Reads and validates <c>genai_config.json</c>; every error names the file, the JSON path and the value.</summary>
public static class GenAIConfigReader
{
    /// <summary>The file name of the configuration inside a model folder.</summary>
    public const string FileName = "genai_config.json";

    /// <summary>
    /// The <c>model.type</c> values LlmKit runs: the decoder-only families the official builder emits as Llama-like
    /// graphs, and GPT-2 (combined KV tensors). Each is accepted where its graph matches the configuration.
    /// </summary>
    public static IReadOnlyList<string> SupportedModelTypes { get; } = ["llama", "mistral", "qwen2", "phi3", "gemma", "gemma2", "phi", "gpt2"];

    /// <summary>Largest <c>context_length</c> accepted: 4,194,304 tokens (4x the longest-context models published), so a typo cannot size buffers.</summary>
    public const int MaxContextLength = 1 << 22;

    /// <summary>Largest <c>vocab_size</c> accepted (16,777,216).</summary>
    public const int MaxVocabSize = 1 << 24;

    /// <summary>Largest layer, head and head-size counts accepted (1,024 each; 4,096 query heads).</summary>
    public const int MaxLayersOrHeads = 1024;

    // Fields the official schema defines whose presence changes what the model computes, and that LlmKit cannot honour.
    private static readonly (string Section, string Field, string Why)[] Unsupported =
    [
        ("$.model", "encoder", "encoder-decoder models (Whisper and the like) are not supported"),
        ("$.model", "vision", "vision inputs (multimodal models) are not supported"),
        ("$.model", "speech", "speech inputs (multimodal models) are not supported"),
        ("$.model", "embedding", "a separate embedding model (multimodal pipelines) is not supported"),
        ("$.model", "adapters", "adapters are not read from genai_config.json; load .onnx_adapter files with OnnxGenAIModel.LoadAdapter (or LlmKit:Adapters)"),
        ("$.model.decoder", "adapters", "adapters are not read from genai_config.json; load .onnx_adapter files with OnnxGenAIModel.LoadAdapter (or LlmKit:Adapters)"),
        ("$.model.decoder", "pipeline", "multi-graph decoder pipelines are not supported"),
    ];

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowReadingFromString,
    };

    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary>Reads and validates the configuration file at <paramref name="path"/>.</summary>
    /// <exception cref="ModelFolderException">The file is missing, is not valid JSON, or a value is missing, out of range or not supported.</exception>
    public static GenAIConfig Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new ModelFolderException($"The model folder has no {FileName}: '{path}' does not exist.") { FilePath = path };
        }

        GenAIConfig? config;
        try
        {
            using var stream = File.OpenRead(path);
            using var document = JsonDocument.Parse(stream, DocumentOptions);
            RequireObjects(document.RootElement, path);
            config = document.Deserialize<GenAIConfig>(JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new ModelFolderException(
                $"{FileName} is malformed at {ex.Path ?? "$"} (line {ex.LineNumber + 1}): {ex.Message}", ex) { FilePath = path };
        }
        catch (IOException ex)
        {
            throw new ModelFolderException($"{FileName} could not be read ('{path}'): {ex.Message}", ex) { FilePath = path };
        }

        if (config is null)
        {
            throw new ModelFolderException($"{FileName} is empty ('{path}').") { FilePath = path };
        }

        Validate(config, path);
        return config;
    }

    /// <summary>
    /// Sections that must be JSON objects when present: a <c>null</c> or a number there would otherwise surface as a
    /// NullReferenceException deep inside loading.
    /// </summary>
    private static void RequireObjects(JsonElement root, string path)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw Invalid(path, "$", root, "must be a JSON object");
        }

        Object(root, "model", "$", required: true, out var model);
        Object(root, "search", "$", required: false, out _);
        Object(model, "decoder", "$.model", required: true, out var decoder);
        Object(decoder, "inputs", "$.model.decoder", required: false, out _);
        Object(decoder, "outputs", "$.model.decoder", required: false, out _);
        Object(decoder, "session_options", "$.model.decoder", required: false, out var session);
        Object(decoder, "sliding_window", "$.model.decoder", required: false, out _);
        if (session.ValueKind == JsonValueKind.Object && session.TryGetProperty("provider_options", out var providers)
            && providers.ValueKind != JsonValueKind.Array)
        {
            throw Invalid(path, "$.model.decoder.session_options.provider_options", providers, "must be an array");
        }

        if (model.TryGetProperty("bos_token_id", out var bos) && bos.ValueKind == JsonValueKind.Number && bos.TryGetInt64(out long bosId) && bosId < 0)
        {
            throw Invalid(path, "$.model.bos_token_id", bos, "must be a token id >= 0 (leave the field out when the model has no BOS)");
        }

        void Object(JsonElement parent, string name, string at, bool required, out JsonElement value)
        {
            value = default;
            if (!parent.TryGetProperty(name, out var found))
            {
                if (required)
                {
                    throw new ModelFolderException($"{FileName}: {at}.{name} is missing ('{path}').") { FilePath = path };
                }

                return;
            }

            if (found.ValueKind != JsonValueKind.Object)
            {
                throw Invalid(path, $"{at}.{name}", found, "must be a JSON object");
            }

            value = found;
        }
    }

    private static void Validate(GenAIConfig config, string path)
    {
        var model = config.Model;
        var decoder = model.Decoder;
        var search = config.Search;
        void Require(bool ok, string jsonPath, string problem) => GenAIConfigReader.Require(ok, jsonPath, problem, path);
        void Fail(string jsonPath, string problem) => GenAIConfigReader.Require(false, jsonPath, problem, path);
        if (!SupportedModelTypes.Contains(model.Type, StringComparer.Ordinal))
        {
            Fail("$.model.type", $"'{model.Type}' is not a supported model type; supported: {string.Join(", ", SupportedModelTypes)}");
        }

        foreach (var (section, field, why) in Unsupported)
        {
            var unknown = section == "$.model" ? model.Unknown : decoder.Unknown;
            if (unknown is not null && unknown.TryGetValue(field, out var value) && value.ValueKind is not JsonValueKind.Null)
            {
                Fail($"{section}.{field}", $"is set but LlmKit cannot act on it: {why}");
            }
        }

        Require(!string.IsNullOrWhiteSpace(decoder.Filename), "$.model.decoder.filename", "must name the ONNX file");
        Require(decoder.NumHiddenLayers is > 0 and <= MaxLayersOrHeads, "$.model.decoder.num_hidden_layers", $"must be in [1, {MaxLayersOrHeads}] (was {decoder.NumHiddenLayers})");
        Require(decoder.HeadSize is > 0 and <= MaxLayersOrHeads, "$.model.decoder.head_size", $"must be in [1, {MaxLayersOrHeads}] (was {decoder.HeadSize})");
        Require(decoder.NumKeyValueHeads is > 0 and <= MaxLayersOrHeads, "$.model.decoder.num_key_value_heads", $"must be in [1, {MaxLayersOrHeads}] (was {decoder.NumKeyValueHeads})");

        // GPT-2 folders omit num_attention_heads: the graph's KV shape gives it (checked when the graph is loaded).
        bool headsOptional = model.Type == "gpt2" && decoder.NumAttentionHeads == 0;
        if (!headsOptional)
        {
            Require(decoder.NumAttentionHeads is > 0 and <= 4 * MaxLayersOrHeads, "$.model.decoder.num_attention_heads", $"must be in [1, {4 * MaxLayersOrHeads}] (was {decoder.NumAttentionHeads})");
            Require(decoder.NumAttentionHeads % decoder.NumKeyValueHeads == 0, "$.model.decoder.num_attention_heads",
                $"must be a multiple of num_key_value_heads ({decoder.NumAttentionHeads} vs {decoder.NumKeyValueHeads})");
        }

        Require(decoder.HiddenSize >= 0, "$.model.decoder.hidden_size", $"must be >= 0 (was {decoder.HiddenSize})");
        Require(model.VocabSize is > 0 and <= MaxVocabSize, "$.model.vocab_size", $"must be in [1, {MaxVocabSize}] (was {model.VocabSize})");
        Require(model.ContextLength is > 0 and <= MaxContextLength, "$.model.context_length", $"must be in [1, {MaxContextLength}] (was {model.ContextLength})");
        Require(model.BosTokenId < model.VocabSize, "$.model.bos_token_id", $"id {model.BosTokenId} is outside the vocabulary [0, {model.VocabSize})");
        Require(model.EosTokenIds.Length > 0, "$.model.eos_token_id", "must give at least one end-of-sequence token id");
        foreach (int eos in model.EosTokenIds)
        {
            Require(eos >= 0 && eos < model.VocabSize, "$.model.eos_token_id", $"id {eos} is outside the vocabulary [0, {model.VocabSize})");
        }

        foreach (int pad in model.PadTokenIds)
        {
            Require(pad >= 0 && pad < model.VocabSize, "$.model.pad_token_id", $"id {pad} is outside the vocabulary [0, {model.VocabSize})");
        }

        if (decoder.Inputs.PastNames is not null || decoder.Outputs.PresentNames is not null)
        {
            Require(decoder.Inputs.PastNames?.Contains("%d", StringComparison.Ordinal) == true, "$.model.decoder.inputs.past_names", "must contain %d for the layer index (and pairs with outputs.present_names)");
            Require(decoder.Outputs.PresentNames?.Contains("%d", StringComparison.Ordinal) == true, "$.model.decoder.outputs.present_names", "must contain %d for the layer index (and pairs with inputs.past_names)");
        }
        else
        {
            Require(decoder.Inputs.PastKeyNames.Contains("%d", StringComparison.Ordinal), "$.model.decoder.inputs.past_key_names", "must contain %d for the layer index");
            Require(decoder.Inputs.PastValueNames.Contains("%d", StringComparison.Ordinal), "$.model.decoder.inputs.past_value_names", "must contain %d for the layer index");
            Require(decoder.Outputs.PresentKeyNames.Contains("%d", StringComparison.Ordinal), "$.model.decoder.outputs.present_key_names", "must contain %d for the layer index");
            Require(decoder.Outputs.PresentValueNames.Contains("%d", StringComparison.Ordinal), "$.model.decoder.outputs.present_value_names", "must contain %d for the layer index");
        }

        if (decoder.SlidingWindow is { } window)
        {
            Require(window.WindowSize > 0 && window.WindowSize <= model.ContextLength, "$.model.decoder.sliding_window.window_size", $"must be in [1, context_length {model.ContextLength}] (was {window.WindowSize})");
        }

        ValidateSearch(search, model, path);
    }

    private static void ValidateSearch(GenAISearchSection search, GenAIModelSection model, string path)
    {
        Require(search.NumBeams is >= 1 and <= 64, "$.search.num_beams", $"must be in [1, 64] (was {search.NumBeams})", path);
        Require(search.NumReturnSequences >= 1 && search.NumReturnSequences <= search.NumBeams, "$.search.num_return_sequences", $"must be in [1, num_beams {search.NumBeams}] (was {search.NumReturnSequences})", path);
        Require(search.DiversityPenalty == 0, "$.search.diversity_penalty", $"is {search.DiversityPenalty} but LlmKit has no group beam search; set it to 0", path);
        Require(search.TopK >= 0, "$.search.top_k", $"must be >= 0 (was {search.TopK})", path);
        Require(search.TopP > 0 && search.TopP <= 1, "$.search.top_p", $"must be in (0, 1] (was {search.TopP})", path);
        Require(search.Temperature >= 0 && float.IsFinite(search.Temperature), "$.search.temperature", $"must be a finite number >= 0 (was {search.Temperature})", path);
        Require(search.RepetitionPenalty > 0 && float.IsFinite(search.RepetitionPenalty), "$.search.repetition_penalty", $"must be a finite number > 0 (was {search.RepetitionPenalty})", path);
        Require(search.NoRepeatNGramSize >= 0, "$.search.no_repeat_ngram_size", $"must be >= 0 (was {search.NoRepeatNGramSize})", path);
        Require(float.IsFinite(search.LengthPenalty), "$.search.length_penalty", $"must be a finite number (was {search.LengthPenalty})", path);
        Require(search.MaxLength >= 0, "$.search.max_length", $"must be >= 0 (was {search.MaxLength})", path);
        Require(search.MinLength >= 0 && search.MinLength <= model.ContextLength, "$.search.min_length", $"must be in [0, context_length {model.ContextLength}] (was {search.MinLength})", path);
        if (search.MaxLength == 0 || search.MaxLength > model.ContextLength)
        {
            // The official runtime treats a missing max_length as the context length.
            search.MaxLength = model.ContextLength;
        }
    }

    private static void Require(bool ok, string jsonPath, string problem, string path)
    {
        if (!ok)
        {
            throw new ModelFolderException($"{FileName}: {jsonPath} {problem} ('{path}').") { FilePath = path };
        }
    }

    private static ModelFolderException Invalid(string path, string jsonPath, JsonElement value, string problem)
    {
        string text = value.GetRawText();
        if (text.Length > 80)
        {
            text = text[..80] + "...";
        }

        return new ModelFolderException($"{FileName}: {jsonPath} {problem} (was {text}) ('{path}').") { FilePath = path };
    }
}
