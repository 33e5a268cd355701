using System.Text.Json;
using LlmKit.Models;

namespace LlmKit.Tokenization;

/// <summary>The parts of Hugging Face's <c>tokenizer_config.json</c> LlmKit uses.</summary>
public sealed class TokenizerConfig
{
    /// <summary>The file name inside a model folder.</summary>
    public const string FileName = "tokenizer_config.json";

    /// <summary>Whether a beginning-of-sequence token starts every encoded prompt (Llama-style tokenizers: true).</summary>
    public bool? AddBosToken { get; init; }

    /// <summary>Whether an end-of-sequence token ends every encoded text (normally false).</summary>
    public bool AddEosToken { get; init; }

    /// <summary>Text of the BOS token, when declared.</summary>
    public string? BosToken { get; init; }

    /// <summary>Text of the EOS token, when declared.</summary>
    public string? EosToken { get; init; }

    /// <summary>The Jinja chat template, when the folder ships one.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>Tokens added on top of the base vocabulary (<c>added_tokens_decoder</c>): text to id, with whether each is special.</summary>
    public IReadOnlyDictionary<string, (int Id, bool Special)> AddedTokens { get; init; } = new Dictionary<string, (int, bool)>();

    /// <summary>Reads <c>tokenizer_config.json</c> from a folder; returns an empty configuration when the file is absent.</summary>
    /// <exception cref="ModelFolderException">The file is not valid JSON.</exception>
    public static TokenizerConfig Read(string folder)
    {
        string path = Path.Combine(folder, FileName);
        if (!File.Exists(path))
        {
            return new TokenizerConfig();
        }

        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            var root = doc.RootElement;
            var added = new Dictionary<string, (int, bool)>(StringComparer.Ordinal);
            if (root.TryGetProperty("added_tokens_decoder", out var decoder) && decoder.ValueKind == JsonValueKind.Object)
            {
                foreach (var entry in decoder.EnumerateObject())
                {
                    if (int.TryParse(entry.Name, out int id) && entry.Value.TryGetProperty("content", out var content))
                    {
                        bool special = entry.Value.TryGetProperty("special", out var s) && s.ValueKind == JsonValueKind.True;
                        added[content.GetString()!] = (id, special);
                    }
                }
            }

            return new TokenizerConfig
            {
                AddBosToken = root.TryGetProperty("add_bos_token", out var bos) && bos.ValueKind is JsonValueKind.True or JsonValueKind.False ? bos.GetBoolean() : null,
                AddEosToken = root.TryGetProperty("add_eos_token", out var eos) && eos.ValueKind == JsonValueKind.True,
                BosToken = TokenText(root, "bos_token"),
                EosToken = TokenText(root, "eos_token"),
                ChatTemplate = ChatTemplateText(root),
                AddedTokens = added,
            };
        }
        catch (JsonException ex)
        {
            throw new ModelFolderException($"{FileName} is malformed at {ex.Path ?? "$"} (line {ex.LineNumber + 1}): {ex.Message}", ex) { FilePath = path };
        }
    }

    // bos_token is either "<s>" or {"content": "<s>", ...}.
    private static string? TokenText(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) ? value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Object when value.TryGetProperty("content", out var c) => c.GetString(),
            _ => null,
        } : null;

    // chat_template is a string, or a list of {name, template} where "default" is the chat one.
    private static string? ChatTemplateText(JsonElement root)
    {
        if (!root.TryGetProperty("chat_template", out var value))
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString();
        }

        if (value.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in value.EnumerateArray())
            {
                if (item.TryGetProperty("name", out var n) && n.GetString() == "default" && item.TryGetProperty("template", out var t))
                {
                    return t.GetString();
                }
            }
        }

        return null;
    }
}
