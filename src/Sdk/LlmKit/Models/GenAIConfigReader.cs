using System.Text.Json;

namespace LlmKit.Models;

/// <summary>Reads and validates <c>genai_config.json</c>; every error names the file and the JSON path.</summary>
public static class GenAIConfigReader
{
    /// <summary>The file name of the configuration inside a model folder.</summary>
    public const string FileName = "genai_config.json";

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowReadingFromString,
    };

    /// <summary>Reads and validates the configuration file at <paramref name="path"/>.</summary>
    /// <exception cref="ModelFolderException">The file is missing, is not valid JSON, or a required value is missing or out of range.</exception>
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
            config = JsonSerializer.Deserialize<GenAIConfig>(stream, JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new ModelFolderException(
                $"{FileName} is malformed at {ex.Path ?? "$"} (line {ex.LineNumber + 1}): {ex.Message}", ex) { FilePath = path };
        }

        if (config is null)
        {
            throw new ModelFolderException($"{FileName} is empty ('{path}').") { FilePath = path };
        }

        Validate(config, path);
        return config;
    }

    private static void Validate(GenAIConfig config, string path)
    {
        var model = config.Model;
        var decoder = model.Decoder;
        Require(!string.IsNullOrWhiteSpace(decoder.Filename), "$.model.decoder.filename", "must name the ONNX file");
        Require(decoder.NumHiddenLayers > 0, "$.model.decoder.num_hidden_layers", $"must be > 0 (was {decoder.NumHiddenLayers})");
        Require(decoder.HeadSize > 0, "$.model.decoder.head_size", $"must be > 0 (was {decoder.HeadSize})");
        Require(decoder.NumKeyValueHeads > 0, "$.model.decoder.num_key_value_heads", $"must be > 0 (was {decoder.NumKeyValueHeads})");
        Require(decoder.NumAttentionHeads > 0, "$.model.decoder.num_attention_heads", $"must be > 0 (was {decoder.NumAttentionHeads})");
        Require(decoder.NumAttentionHeads % decoder.NumKeyValueHeads == 0, "$.model.decoder.num_attention_heads",
            $"must be a multiple of num_key_value_heads ({decoder.NumAttentionHeads} vs {decoder.NumKeyValueHeads})");
        Require(model.VocabSize > 0, "$.model.vocab_size", $"must be > 0 (was {model.VocabSize})");
        Require(model.ContextLength > 0, "$.model.context_length", $"must be > 0 (was {model.ContextLength})");
        Require(model.EosTokenIds.Length > 0, "$.model.eos_token_id", "must give at least one end-of-sequence token id");
        foreach (int eos in model.EosTokenIds)
        {
            Require(eos >= 0 && eos < model.VocabSize, "$.model.eos_token_id", $"id {eos} is outside the vocabulary [0, {model.VocabSize})");
        }

        Require(decoder.Inputs.PastKeyNames.Contains("%d", StringComparison.Ordinal), "$.model.decoder.inputs.past_key_names", "must contain %d for the layer index");
        Require(decoder.Inputs.PastValueNames.Contains("%d", StringComparison.Ordinal), "$.model.decoder.inputs.past_value_names", "must contain %d for the layer index");
        Require(decoder.Outputs.PresentKeyNames.Contains("%d", StringComparison.Ordinal), "$.model.decoder.outputs.present_key_names", "must contain %d for the layer index");
        Require(decoder.Outputs.PresentValueNames.Contains("%d", StringComparison.Ordinal), "$.model.decoder.outputs.present_value_names", "must contain %d for the layer index");
        Require(config.Search.NumBeams >= 1, "$.search.num_beams", $"must be >= 1 (was {config.Search.NumBeams})");
        if (config.Search.MaxLength <= 0 || config.Search.MaxLength > model.ContextLength)
        {
            // The official runtime treats a missing max_length as the context length.
            config.Search.MaxLength = model.ContextLength;
        }

        void Require(bool ok, string jsonPath, string problem)
        {
            if (!ok)
            {
                throw new ModelFolderException($"{FileName}: {jsonPath} {problem} ('{path}').") { FilePath = path };
            }
        }
    }
}
