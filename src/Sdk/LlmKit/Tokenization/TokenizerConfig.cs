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

    /// <summary>The file name of a chat template kept beside <see cref="FileName"/> (newer Hugging Face folders); it wins over <c>chat_template</c>.</summary>
    public const string ChatTemplateFileName = "chat_template.jinja";

    /// <summary>A chat template file larger than this is refused before it is read.</summary>
    public const long MaxChatTemplateFileBytes = 4L * 1024 * 1024;

    /// <summary>
    /// The Jinja chat template, when the folder ships one: <c>chat_template.jinja</c>, else <c>chat_template</c> (a string, or
    /// the template named "default" in Hugging Face's list form).
    /// </summary>
    public string? ChatTemplate { get; init; }

    /// <summary>Every named template of <c>chat_template</c>'s list form ({name, template}), e.g. "default" and "tool_use"; empty for the string form.</summary>
    public IReadOnlyDictionary<string, string> NamedChatTemplates { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Special tokens Hugging Face passes to a chat template as variables: <c>bos_token</c>, <c>eos_token</c>, <c>unk_token</c>,
    /// <c>sep_token</c>, <c>pad_token</c>, <c>cls_token</c>, <c>mask_token</c> (those the file declares), by name.
    /// </summary>
    public IReadOnlyDictionary<string, string> SpecialTokens { get; init; } = new Dictionary<string, string>();

    /// <summary><c>additional_special_tokens</c>, in file order.</summary>
    public IReadOnlyList<string> AdditionalSpecialTokens { get; init; } = [];

    /// <summary>Tokens added on top of the base vocabulary (<c>added_tokens_decoder</c>): text to id, with whether each is special.</summary>
    public IReadOnlyDictionary<string, (int Id, bool Special)> AddedTokens { get; init; } = new Dictionary<string, (int, bool)>();

    /// <summary>
    /// Reads <c>tokenizer_config.json</c> and <c>chat_template.jinja</c> from a folder; returns an empty configuration when
    /// neither is present.
    /// </summary>
    /// <exception cref="ModelFolderException">The file is not valid JSON, or the chat template file is too large.</exception>
    public static TokenizerConfig Read(string folder)
    {
        var config = ReadJson(folder);
        string? fileTemplate = ReadChatTemplateFile(folder);
        return fileTemplate is null ? config : new TokenizerConfig
        {
            AddBosToken = config.AddBosToken,
            AddEosToken = config.AddEosToken,
            BosToken = config.BosToken,
            EosToken = config.EosToken,
            ChatTemplate = fileTemplate,
            NamedChatTemplates = config.NamedChatTemplates,
            SpecialTokens = config.SpecialTokens,
            AdditionalSpecialTokens = config.AdditionalSpecialTokens,
            AddedTokens = config.AddedTokens,
        };
    }

    private static string? ReadChatTemplateFile(string folder)
    {
        string path = Path.Combine(folder, ChatTemplateFileName);
        var file = new FileInfo(path);
        if (!file.Exists)
        {
            return null;
        }

        if (file.Length > MaxChatTemplateFileBytes)
        {
            throw new ModelFolderException($"{ChatTemplateFileName} is {file.Length} bytes; at most {MaxChatTemplateFileBytes} are accepted.") { FilePath = path };
        }

        return File.ReadAllText(path);
    }

    private static TokenizerConfig ReadJson(string folder)
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
                NamedChatTemplates = NamedTemplates(root),
                SpecialTokens = SpecialTokenTexts(root),
                AdditionalSpecialTokens = AdditionalTokens(root),
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

    private static readonly string[] SpecialTokenNames = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

    private static Dictionary<string, string> SpecialTokenTexts(JsonElement root)
    {
        var tokens = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string name in SpecialTokenNames)
        {
            if (TokenText(root, name) is { Length: > 0 } text)
            {
                tokens[name] = text;
            }
        }

        return tokens;
    }

    private static List<string> AdditionalTokens(JsonElement root)
    {
        var tokens = new List<string>();
        if (root.TryGetProperty("additional_special_tokens", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in list.EnumerateArray())
            {
                string? text = item.ValueKind == JsonValueKind.String ? item.GetString()
                    : item.ValueKind == JsonValueKind.Object && item.TryGetProperty("content", out var c) ? c.GetString() : null;
                if (text is not null)
                {
                    tokens.Add(text);
                }
            }
        }

        return tokens;
    }

    private static Dictionary<string, string> NamedTemplates(JsonElement root)
    {
        var templates = new Dictionary<string, string>(StringComparer.Ordinal);
        if (root.TryGetProperty("chat_template", out var value) && value.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in value.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String
                    && item.TryGetProperty("template", out var t) && t.ValueKind == JsonValueKind.String)
                {
                    templates[n.GetString()!] = t.GetString()!;
                }
            }
        }

        return templates;
    }

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
                if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String
                    && n.GetString() == "default" && item.TryGetProperty("template", out var t) && t.ValueKind == JsonValueKind.String)
                {
                    return t.GetString();
                }
            }
        }

        return null;
    }
}
